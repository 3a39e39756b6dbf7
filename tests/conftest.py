import os
import sys

# tests import their helpers (peers.py) by name
sys.path.insert(0, os.path.dirname(__file__))
