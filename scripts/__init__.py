"""Developer tools run from the repository (serving_requirements.py writes requirements/serving.txt)."""
