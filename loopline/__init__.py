"""loopline"""
