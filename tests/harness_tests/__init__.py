"""harness_tests"""
