"""linreg: the smallest training app the stack runs (see images/linreg/MLproject)."""
