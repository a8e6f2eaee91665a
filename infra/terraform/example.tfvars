# Copy to <environment>.tfvars (git-ignored) and fill in:
#   terraform plan -var-file=prod.tfvars
environment     = "prod"
region          = "eu-west-1"
certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
container_image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ragstream:0.1.0"

qdrant_url = "https://xyz-example.eu-west-1-0.aws.cloud.qdrant.io:6333"

# Temporal Cloud (mTLS); for a self-hosted cluster: its address, temporal_tls as it is set up,
# and temporal_cidrs = its subnets.
temporal_address   = "ragstream.a1b2c.tmprl.cloud:7233"
temporal_namespace = "ragstream.a1b2c"
temporal_tls       = true
