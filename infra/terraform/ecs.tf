# ECS on Fargate: one cluster, and per deployable one task definition and one service, all
# from the same image (`ragstream api|processors|worker|intake`). Why Fargate: README.md.

resource "aws_cloudwatch_log_group" "ecs_exec" {
  name              = "/ecs/${local.name}/exec"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.logs.arn
}

resource "aws_ecs_cluster" "main" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  # ECS Exec is off on every service; should an operator turn it on, sessions are encrypted and logged.
  configuration {
    execute_command_configuration {
      kms_key_id = aws_kms_key.logs.arn
      logging    = "OVERRIDE"

      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = aws_cloudwatch_log_group.ecs_exec.name
      }
    }
  }
}

resource "aws_ecs_cluster_capacity_providers" "main" {
  cluster_name       = aws_ecs_cluster.main.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

resource "aws_cloudwatch_log_group" "service" {
  for_each = local.service_names

  name              = "/ecs/${local.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.logs.arn
}

locals {
  # RAGSTREAM_* settings (apps/common/settings.py) of every deployable. Secrets are not here:
  # they come from Secrets Manager (secrets.tf) through the task definition's `secrets`.
  common_environment = merge(
    {
      RAGSTREAM_KAFKA_BOOTSTRAP_SERVERS     = aws_msk_cluster.main.bootstrap_brokers_sasl_iam
      RAGSTREAM_KAFKA_SECURITY_PROTOCOL     = "SASL_SSL"
      RAGSTREAM_KAFKA_SASL_MECHANISM        = "OAUTHBEARER"
      RAGSTREAM_KAFKA_TOPIC_PREFIX          = var.kafka_topic_prefix
      RAGSTREAM_KAFKA_CONSUMER_GROUP_PREFIX = var.kafka_consumer_group_prefix
      RAGSTREAM_KAFKA_PARTITIONS            = tostring(var.kafka_partitions)
      RAGSTREAM_KAFKA_REPLICATION_FACTOR    = tostring(local.kafka_replication_factor)
      RAGSTREAM_KAFKA_IDEMPOTENT_PRODUCER   = "true"
      RAGSTREAM_TEMPORAL_ADDRESS            = var.temporal_address
      RAGSTREAM_TEMPORAL_NAMESPACE          = var.temporal_namespace
      RAGSTREAM_TEMPORAL_TASK_QUEUE         = var.temporal_task_queue
      RAGSTREAM_TEMPORAL_TLS                = tostring(var.temporal_tls)
      RAGSTREAM_VECTOR_STORE                = "qdrant"
      RAGSTREAM_QDRANT_URL                  = var.qdrant_url
      RAGSTREAM_S3_BUCKET                   = aws_s3_bucket.documents.id
      RAGSTREAM_S3_REGION                   = local.region
      RAGSTREAM_EMBEDDING_MODEL             = var.embedding_model
      RAGSTREAM_CHAT_MODEL                  = var.chat_model
      # The root filesystem is read-only: state and temporary files go to the /tmp volume.
      # (The image builds its caches under ~/.cache at build time, so they are only read.)
      RAGSTREAM_STATE_DIR = "/tmp/ragstream"
      TMPDIR              = "/tmp"
    },
    var.openai_base_url == null ? {} : { RAGSTREAM_OPENAI_BASE_URL = var.openai_base_url },
  )

  service_environment = {
    api = {
      RAGSTREAM_API_HOST = "0.0.0.0"
      RAGSTREAM_API_PORT = tostring(var.api_port)
    }
    processors = {
      # One parser process per vCPU.
      RAGSTREAM_PARSE_WORKERS = tostring(max(1, floor(var.services["processors"].cpu / 1024)))
    }
    worker = {}
    intake = {
      # Events come from the bucket's SQS notifications, not from a Kafka topic.
      RAGSTREAM_S3_EVENTS_SQS_QUEUE_URL = aws_sqs_queue.s3_events.url
      RAGSTREAM_S3_EVENTS_FROM_KAFKA    = "false"
    }
  }

  environment = {
    for s in local.service_names : s => merge(local.common_environment, local.service_environment[s], var.extra_environment)
  }

  # Only the API listens and has a health check (the image is a Python one; no curl needed).
  api_container_extras = {
    portMappings = [{ containerPort = var.api_port, protocol = "tcp" }]
    healthCheck = {
      command     = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${var.api_port}/healthz', timeout=3)"]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 60
    }
  }

  container_definitions = {
    for s in local.service_names : s => [merge(
      {
        name                   = s
        image                  = var.container_image
        command                = [s] # the image's entrypoint is `ragstream` (Dockerfile)
        essential              = true
        readonlyRootFilesystem = var.readonly_root_filesystem
        privileged             = false
        stopTimeout            = 60

        environment = [for k, v in local.environment[s] : { name = k, value = v }]
        secrets = [
          for key in local.service_secret_keys[s] : {
            name      = local.secrets[key].env
            valueFrom = aws_secretsmanager_secret.app[key].arn
          }
        ]

        mountPoints     = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
        linuxParameters = { initProcessEnabled = true }

        logConfiguration = {
          logDriver = "awslogs"
          options = {
            awslogs-group         = aws_cloudwatch_log_group.service[s].name
            awslogs-region        = local.region
            awslogs-stream-prefix = s
          }
        }
      },
      { for k, v in local.api_container_extras : k => v if s == "api" },
    )]
  }
}

resource "aws_ecs_task_definition" "service" {
  for_each = local.service_names

  family                   = "${local.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.services[each.key].cpu
  memory                   = var.services[each.key].memory
  execution_role_arn       = aws_iam_role.execution[each.key].arn
  task_role_arn            = aws_iam_role.task[each.key].arn

  container_definitions = jsonencode(local.container_definitions[each.key])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # Scratch space on the task's ephemeral storage for the read-only root filesystem.
  volume {
    name = "tmp"
  }
}

resource "aws_ecs_service" "service" {
  for_each = local.service_names

  name                    = each.key
  cluster                 = aws_ecs_cluster.main.id
  task_definition         = aws_ecs_task_definition.service[each.key].arn
  desired_count           = var.services[each.key].desired_count
  launch_type             = "FARGATE"
  platform_version        = "LATEST"
  propagate_tags          = "SERVICE"
  enable_ecs_managed_tags = true
  enable_execute_command  = false

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = each.key == "api" ? 120 : null

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [local.service_security_group_ids[each.key]]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = each.key == "api" ? [1] : []

    content {
      target_group_arn = aws_lb_target_group.api.arn
      container_name   = "api"
      container_port   = var.api_port
    }
  }

  depends_on = [aws_lb_listener.https, aws_iam_role_policy.task, aws_iam_role_policy.execution]
}
