"""Example agents: copy one to start your own."""
