data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

# The zones are named, not "the first N available": the set cannot change under the VPC
# when AWS opens a zone, and a missing zone fails the plan.
data "aws_availability_zones" "selected" {
  state = "available"

  filter {
    name   = "zone-name"
    values = [for letter in var.availability_zones : "${var.region}${letter}"]
  }

  lifecycle {
    postcondition {
      condition     = length(self.names) == length(var.availability_zones)
      error_message = "Not every zone of availability_zones is available in this region and account."
    }
  }
}

locals {
  name       = "${var.name}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region
  azs        = sort(data.aws_availability_zones.selected.names)
  az_count   = length(var.availability_zones)

  tags = merge(var.tags, {
    Project     = var.name
    Environment = var.environment
    ManagedBy   = "terraform"
  })

  # The four deployables (`ragstream api|processors|worker|intake`): one task definition,
  # service, security group, log group, task role and execution role each.
  service_names = toset(["api", "processors", "worker", "intake"])

  # Which Secrets Manager secrets each deployable receives (keys of local.secrets, secrets.tf).
  service_secrets = {
    api        = ["database_url", "openai_api_key", "api_token", "qdrant_api_key"]
    processors = ["database_url", "openai_api_key", "qdrant_api_key"]
    worker     = ["database_url"]
    intake     = ["database_url"]
  }

  # What each deployable talks to, for its security group's egress (network.tf).
  # All four run the Postgres migrations at start and talk to Kafka and Temporal; only the
  # API and the stream processors open the vector store.
  service_uses_qdrant = {
    api        = true
    processors = true
    worker     = false
    intake     = false
  }
}
