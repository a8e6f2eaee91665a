"""The contracts between ragstream's deployables: event models per topic, workflow and API models, SQL."""
