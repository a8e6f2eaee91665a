# Kafka: an MSK cluster in the data subnets. Clients authenticate with IAM (SASL/OAUTHBEARER
# over TLS, port 9098): no Kafka passwords exist, and each task role's policy (iam.tf) says
# which topics and consumer groups it may use. Topics are not Terraform's job: see README.md.

resource "aws_msk_configuration" "main" {
  # Named after the Kafka version: a new version makes a new configuration before the old one goes.
  name           = "${local.name}-${replace(var.kafka_version, ".", "-")}"
  kafka_versions = [var.kafka_version]
  description    = "ragstream brokers"

  server_properties = <<-PROPERTIES
    auto.create.topics.enable=false
    default.replication.factor=${local.kafka_replication_factor}
    min.insync.replicas=${max(1, local.kafka_replication_factor - 1)}
    unclean.leader.election.enable=false
    num.partitions=${var.kafka_partitions}
    log.retention.ms=-1
    message.max.bytes=4194304
    replica.fetch.max.bytes=4194304
  PROPERTIES

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "msk" {
  name              = "/aws/msk/${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.logs.arn
}

resource "aws_msk_cluster" "main" {
  cluster_name           = local.name
  kafka_version          = var.kafka_version
  number_of_broker_nodes = local.az_count * var.msk_brokers_per_az
  enhanced_monitoring    = "PER_TOPIC_PER_BROKER"

  broker_node_group_info {
    instance_type   = var.msk_broker_instance_type
    client_subnets  = aws_subnet.data[*].id
    security_groups = [aws_security_group.msk.id]

    storage_info {
      ebs_storage_info {
        volume_size = var.msk_volume_size
      }
    }

    connectivity_info {
      public_access {
        type = "DISABLED"
      }
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.main.arn
    revision = aws_msk_configuration.main.latest_revision
  }

  client_authentication {
    unauthenticated = false

    sasl {
      iam = true
    }
  }

  encryption_info {
    encryption_at_rest_kms_key_arn = aws_kms_key.msk.arn

    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.msk.name
      }
    }
  }

  lifecycle {
    # Storage autoscaling (below) grows the volumes; Terraform must not shrink them back.
    ignore_changes = [broker_node_group_info[0].storage_info[0].ebs_storage_info[0].volume_size]
  }
}

# Topics keep their whole history (replays rebuild the index from it), so storage grows:
# let MSK add EBS capacity when a broker's disk is 70 % full.
resource "aws_appautoscaling_target" "msk_storage" {
  service_namespace  = "kafka"
  scalable_dimension = "kafka:broker-storage:VolumeSize"
  resource_id        = aws_msk_cluster.main.arn
  min_capacity       = 1
  max_capacity       = var.msk_max_volume_size
}

resource "aws_appautoscaling_policy" "msk_storage" {
  name               = "${local.name}-msk-storage"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.msk_storage.service_namespace
  scalable_dimension = aws_appautoscaling_target.msk_storage.scalable_dimension
  resource_id        = aws_appautoscaling_target.msk_storage.resource_id

  target_tracking_scaling_policy_configuration {
    target_value     = 70
    disable_scale_in = true # MSK storage only grows

    predefined_metric_specification {
      predefined_metric_type = "KafkaBrokerStorageUtilization"
    }
  }
}

locals {
  # Three copies of every partition (two with a two-broker cluster); a write needs all but one.
  kafka_replication_factor = min(3, local.az_count * var.msk_brokers_per_az)

  # IAM resource ARNs of this cluster's topics and consumer groups (for iam.tf).
  msk_resource_suffix = "${aws_msk_cluster.main.cluster_name}/${aws_msk_cluster.main.cluster_uuid}"
  msk_topics_arn      = "arn:${local.partition}:kafka:${local.region}:${local.account_id}:topic/${local.msk_resource_suffix}/${var.kafka_topic_prefix}*"
  msk_groups_arn      = "arn:${local.partition}:kafka:${local.region}:${local.account_id}:group/${local.msk_resource_suffix}/${var.kafka_consumer_group_prefix}*"
}
