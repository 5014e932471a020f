"""The reliability suite (`make reliability`): failures injected into a real deployment on 127.0.0.1."""
