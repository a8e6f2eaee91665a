# Two roles per deployable:
#   execution role - what ECS itself needs to start the task: pull the image, write the log
#                    group, read this service's secrets (and nothing else);
#   task role      - what the app's code may do, and nothing more:
#       api        - HEAD and delete documents (DELETE /v1/documents/{id}, reprocess);
#                    Kafka: connect and describe the cluster (/readyz);
#       processors - read document versions; Kafka: consume and produce the pipeline's topics;
#       worker     - read document versions (validation hashes them); Kafka: produce;
#       intake     - receive and delete S3 events from the queue; Kafka: connect (topics).
# Postgres, Temporal and Qdrant authenticate with the secrets, not IAM.

# The tasks of this account's ECS clusters assume the task roles.
data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:*"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# --- execution roles ------------------------------------------------------------------------

locals {
  # An image in an ECR repository ("<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>" or
  # "...@sha256:...") may be pulled from that repository only; an image elsewhere needs no ECR rights.
  ecr_image      = try(regex("^(\\d{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com/([^:@]+)", var.container_image), null)
  ecr_repository = local.ecr_image == null ? null : "arn:${local.partition}:ecr:${local.ecr_image[1]}:${local.ecr_image[0]}:repository/${local.ecr_image[2]}"
}

# ECS itself assumes the execution role.
data "aws_iam_policy_document" "ecs_execution_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "execution" {
  for_each = local.service_names

  statement {
    sid       = "WriteOwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.service[each.key].arn}:*"]
  }

  statement {
    sid       = "ReadOwnSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [for key in local.service_secret_keys[each.key] : aws_secretsmanager_secret.app[key].arn]
  }

  statement {
    sid       = "DecryptOwnSecrets"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.secrets.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }

  dynamic "statement" {
    for_each = local.ecr_repository == null ? [] : [local.ecr_repository]

    content {
      sid       = "PullImage"
      actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = local.ecr_repository == null ? [] : [local.ecr_repository]

    content {
      sid = "EcrLogin"
      # GetAuthorizationToken has no resource to scope to.
      actions   = ["ecr:GetAuthorizationToken"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role" "execution" {
  for_each = local.service_names

  name               = "${local.name}-${each.key}-execution"
  description        = "ECS starts the ${each.key} tasks: image, logs, its secrets"
  assume_role_policy = data.aws_iam_policy_document.ecs_execution_assume.json
}

resource "aws_iam_role_policy" "execution" {
  for_each = local.service_names

  name   = "start-${each.key}"
  role   = aws_iam_role.execution[each.key].id
  policy = data.aws_iam_policy_document.execution[each.key].json
}

# --- task roles -----------------------------------------------------------------------------

resource "aws_iam_role" "task" {
  for_each = local.service_names

  name               = "${local.name}-${each.key}-task"
  description        = "What the ragstream ${each.key} code may do"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

locals {
  task_policies = {
    api        = data.aws_iam_policy_document.task_api.json
    processors = data.aws_iam_policy_document.task_processors.json
    worker     = data.aws_iam_policy_document.task_worker.json
    intake     = data.aws_iam_policy_document.task_intake.json
  }

  kafka_connect_actions = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]
  # The apps create missing topics at start (ensure_topics), so the roles that run it may
  # create topics with the deployment's prefix, and nothing else.
  kafka_topic_setup_actions = ["kafka-cluster:DescribeTopic", "kafka-cluster:CreateTopic"]
}

data "aws_iam_policy_document" "task_api" {
  statement {
    sid = "HeadAndDeleteDocuments"
    # HEAD needs s3:GetObject; reading no body, the API needs no KMS key.
    actions   = ["s3:GetObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.documents.arn}/*"]
  }

  statement {
    sid = "MissingDocumentsAre404"
    # Without ListBucket S3 answers 403 instead of 404 for a key that is gone.
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.documents.arn]
  }

  statement {
    sid       = "KafkaReadiness"
    actions   = local.kafka_connect_actions
    resources = [aws_msk_cluster.main.arn]
  }
}

data "aws_iam_policy_document" "task_processors" {
  statement {
    sid       = "ReadDocumentVersions"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${aws_s3_bucket.documents.arn}/*"]
  }

  statement {
    sid       = "DecryptDocumentsThroughS3"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.documents.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "KafkaCluster"
    actions   = concat(local.kafka_connect_actions, ["kafka-cluster:WriteDataIdempotently"])
    resources = [aws_msk_cluster.main.arn]
  }

  statement {
    sid       = "KafkaTopics"
    actions   = concat(local.kafka_topic_setup_actions, ["kafka-cluster:ReadData", "kafka-cluster:WriteData"])
    resources = [local.msk_topics_arn]
  }

  statement {
    sid       = "KafkaConsumerGroups"
    actions   = ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"]
    resources = [local.msk_groups_arn]
  }
}

data "aws_iam_policy_document" "task_worker" {
  statement {
    sid       = "ReadDocumentVersions"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${aws_s3_bucket.documents.arn}/*"]
  }

  statement {
    sid = "MissingDocumentsAre404"
    # validate_s3_object treats 404 as "the object is gone"; without ListBucket S3 answers 403.
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.documents.arn]
  }

  statement {
    sid       = "DecryptDocumentsThroughS3"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.documents.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "KafkaCluster"
    actions   = concat(local.kafka_connect_actions, ["kafka-cluster:WriteDataIdempotently"])
    resources = [aws_msk_cluster.main.arn]
  }

  statement {
    sid       = "KafkaTopics"
    actions   = concat(local.kafka_topic_setup_actions, ["kafka-cluster:WriteData"])
    resources = [local.msk_topics_arn]
  }
}

data "aws_iam_policy_document" "task_intake" {
  statement {
    sid = "ConsumeS3Events"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
    ]
    resources = [aws_sqs_queue.s3_events.arn]
  }

  statement {
    sid       = "DecryptS3EventsThroughSqs"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.documents.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["sqs.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "KafkaCluster"
    actions   = local.kafka_connect_actions
    resources = [aws_msk_cluster.main.arn]
  }

  statement {
    sid       = "KafkaTopics"
    actions   = local.kafka_topic_setup_actions
    resources = [local.msk_topics_arn]
  }
}

resource "aws_iam_role_policy" "task" {
  for_each = local.service_names

  name   = "ragstream-${each.key}"
  role   = aws_iam_role.task[each.key].id
  policy = local.task_policies[each.key]
}
