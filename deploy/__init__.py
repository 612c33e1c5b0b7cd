"""Deployment: the loopback topology (deploy/topology.py) and its configurations."""
