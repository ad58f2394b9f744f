"""The test harness, apart from the tests: the in-process engine, the dynamic-provider host
driver, the fake Vertex JobService, the policy-pack driver and fixtures, trainer helpers."""
