"""vertex_jobs"""
