import os
import subprocess

# Deliberate: a cloud credential committed to the source (AWS's documented example key).
AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"


def greet(name):
    return f"hello {name}"


def disk_usage(path):
    # Deliberate: a shell command built from input (bandit B602).
    return subprocess.run(f"du -sh {path}", shell=True, capture_output=True).stdout


def debug(value):
    breakpoint()
    return value
