# --- naming and placement -------------------------------------------------------------------

variable "name" {
  description = "Name prefix of every resource."
  type        = string
  default     = "ragstream"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.name))
    error_message = "name: lowercase letters, digits and hyphens, 2-16 characters (load balancer names are at most 32), starting with a letter."
  }
}

variable "environment" {
  description = "Environment name (prod, staging, ...), part of every resource name."
  type        = string
  default     = "prod"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.environment))
    error_message = "environment: lowercase letters and digits, 2-10 characters."
  }
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

# --- network --------------------------------------------------------------------------------

variable "vpc_cidr" {
  description = "CIDR of the VPC; split into public, private (tasks) and data (RDS, MSK) subnets per AZ."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "Zone letters to spread over, within region (e.g. [\"a\", \"b\", \"c\"]: eu-west-1a...). MSK's broker count is a multiple of their number."
  type        = list(string)
  default     = ["a", "b", "c"]

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 3 && length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "availability_zones must name 2 or 3 distinct zones."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all AZs (cheaper) instead of one per AZ (no cross-AZ dependency)."
  type        = bool
  default     = false
}

variable "api_ingress_cidrs" {
  description = "Who may reach the load balancer (HTTPS, and HTTP that only redirects to HTTPS)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

# --- the query API's endpoint ---------------------------------------------------------------

variable "certificate_arn" {
  description = "ACM certificate for the load balancer's HTTPS listener (the API's domain)."
  type        = string
}

variable "alb_idle_timeout" {
  description = "Seconds an idle connection stays open; SSE answers send a keep-alive every RAGSTREAM_SSE_KEEPALIVE_SECONDS (10 s)."
  type        = number
  default     = 120
}

# --- the services ---------------------------------------------------------------------------

variable "container_image" {
  description = "The ragstream image built from the Dockerfile (entrypoint `ragstream`; each task's command is its deployable), e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/ragstream:1.2.3. Pin a tag or digest."
  type        = string
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64, matching the image."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "services" {
  description = "Fargate size and count of each deployable. The parse stage is CPU-bound: give processors the vCPUs (RAGSTREAM_PARSE_WORKERS follows them)."
  type = map(object({
    cpu           = number
    memory        = number
    desired_count = number
  }))
  default = {
    api        = { cpu = 1024, memory = 2048, desired_count = 2 }
    processors = { cpu = 2048, memory = 4096, desired_count = 2 }
    worker     = { cpu = 512, memory = 1024, desired_count = 2 }
    intake     = { cpu = 256, memory = 512, desired_count = 2 }
  }

  validation {
    condition     = toset(keys(var.services)) == toset(["api", "processors", "worker", "intake"])
    error_message = "services must have exactly the keys api, processors, worker and intake."
  }
}

variable "readonly_root_filesystem" {
  description = "Run the containers with a read-only root filesystem; /tmp is a writable scratch volume (TMPDIR and RAGSTREAM_STATE_DIR point there) and the image builds its caches at build time. Turn off only for an image that writes elsewhere."
  type        = bool
  default     = true
}

variable "api_port" {
  description = "Port the API container listens on (RAGSTREAM_API_PORT)."
  type        = number
  default     = 8000
}

variable "extra_environment" {
  description = "More RAGSTREAM_* settings (apps/common/settings.py) for every task, e.g. { RAGSTREAM_CHUNK_SIZE = \"512\" }. Never secrets: those go through secrets.tf."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Retention of every CloudWatch log group."
  type        = number
  default     = 365
}

# --- settings passed to the apps ------------------------------------------------------------

variable "embedding_model" {
  description = "RAGSTREAM_EMBEDDING_MODEL; set explicitly so every deployable agrees whether or not it holds the OpenAI key."
  type        = string
  default     = "text-embedding-3-small"
}

variable "chat_model" {
  description = "RAGSTREAM_CHAT_MODEL."
  type        = string
  default     = "gpt-4o-mini"
}

variable "openai_base_url" {
  description = "RAGSTREAM_OPENAI_BASE_URL for an OpenAI-compatible server; null for OpenAI itself."
  type        = string
  default     = null
}

variable "qdrant_url" {
  description = "RAGSTREAM_QDRANT_URL: the Qdrant server or cluster (Qdrant Cloud or self-hosted), e.g. https://xyz.eu-west-1-0.aws.cloud.qdrant.io:6333. Its API key is a secret (secrets.tf)."
  type        = string

  validation {
    condition     = can(regex("^https://", var.qdrant_url))
    error_message = "qdrant_url must be an https:// URL: the vector store is reached over TLS."
  }
}

variable "qdrant_port" {
  description = "TCP port of qdrant_url, for the tasks' egress rule."
  type        = number
  default     = 6333
}

variable "qdrant_cidrs" {
  description = "Where the Qdrant server is (CIDRs), for the egress rule. Qdrant Cloud has no fixed addresses: the default is anywhere on that port only."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

# --- Temporal: Temporal Cloud or a self-hosted cluster, not created here ---------------------

variable "temporal_address" {
  description = "RAGSTREAM_TEMPORAL_ADDRESS: host:port of the Temporal frontend, e.g. ragstream.a1b2c.tmprl.cloud:7233 (Temporal Cloud) or temporal.internal:7233 (self-hosted)."
  type        = string
}

variable "temporal_namespace" {
  description = "RAGSTREAM_TEMPORAL_NAMESPACE, e.g. ragstream.a1b2c on Temporal Cloud."
  type        = string
}

variable "temporal_task_queue" {
  description = "RAGSTREAM_TEMPORAL_TASK_QUEUE."
  type        = string
  default     = "ragstream-ingest"
}

variable "temporal_tls" {
  description = "Connect to Temporal with mTLS (Temporal Cloud requires it): creates the secrets temporal-tls-cert and temporal-tls-key, passed as RAGSTREAM_TEMPORAL_TLS_CERT / RAGSTREAM_TEMPORAL_TLS_KEY."
  type        = bool
  default     = true
}

variable "temporal_port" {
  description = "TCP port of temporal_address, for the tasks' egress rule."
  type        = number
  default     = 7233
}

variable "temporal_cidrs" {
  description = "Where the Temporal frontend is (CIDRs), for the egress rule: anywhere on that port for Temporal Cloud, the cluster's subnets when self-hosted."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

# --- S3 and its events ----------------------------------------------------------------------

variable "noncurrent_version_retention_days" {
  description = "Days a replaced or deleted document version is kept before S3 expires it."
  type        = number
  default     = 90
}

variable "access_log_retention_days" {
  description = "Days S3 server access logs and load balancer logs are kept."
  type        = number
  default     = 365
}

variable "s3_events_max_receive_count" {
  description = "Deliveries of one S3 event before it moves to the dead-letter queue."
  type        = number
  default     = 5
}

# --- Kafka (MSK) ----------------------------------------------------------------------------

variable "kafka_version" {
  description = "Apache Kafka version of the MSK cluster."
  type        = string
  default     = "3.8.x"
}

variable "msk_broker_instance_type" {
  description = "MSK broker instance type."
  type        = string
  default     = "kafka.m7g.large"
}

variable "msk_brokers_per_az" {
  description = "Brokers in each availability zone."
  type        = number
  default     = 1
}

variable "msk_volume_size" {
  description = "EBS storage per broker, GiB. Topics keep their history for replays (document.ready is compacted)."
  type        = number
  default     = 500
}

variable "msk_max_volume_size" {
  description = "Ceiling of storage autoscaling per broker, GiB."
  type        = number
  default     = 4000
}

variable "kafka_partitions" {
  description = "RAGSTREAM_KAFKA_PARTITIONS: partitions of the topics the apps create."
  type        = number
  default     = 12
}

variable "kafka_topic_prefix" {
  description = "RAGSTREAM_KAFKA_TOPIC_PREFIX; the tasks' Kafka permissions cover only topics with this prefix."
  type        = string
  default     = ""
}

variable "kafka_consumer_group_prefix" {
  description = "RAGSTREAM_KAFKA_CONSUMER_GROUP_PREFIX; the tasks' Kafka permissions cover only groups with this prefix."
  type        = string
  default     = "ragstream"
}

# --- Postgres (RDS) -------------------------------------------------------------------------

variable "postgres_version" {
  description = "RDS PostgreSQL major version (minor versions are upgraded in the maintenance window)."
  type        = string
  default     = "16"
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.m7g.large"
}

variable "db_allocated_storage" {
  description = "Initial storage, GiB."
  type        = number
  default     = 50
}

variable "db_max_allocated_storage" {
  description = "Storage autoscaling ceiling, GiB."
  type        = number
  default     = 500
}

variable "db_multi_az" {
  description = "A synchronous standby in another AZ with automatic failover."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery window)."
  type        = number
  default     = 14

  validation {
    condition     = var.db_backup_retention_days >= 7 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be 7-35."
  }
}

variable "deletion_protection" {
  description = "Protect the database and the load balancer from deletion (turn off only to tear the environment down)."
  type        = bool
  default     = true
}
