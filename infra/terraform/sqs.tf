# The S3 events queue: the documents bucket notifies it of every ObjectCreated/ObjectRemoved;
# the intake service (RAGSTREAM_S3_EVENTS_SQS_QUEUE_URL) starts one UploadWorkflow per object
# version and deletes the message. A message delivered s3_events_max_receive_count times
# without being deleted moves to the dead-letter queue, to be looked at and redriven.

resource "aws_sqs_queue" "s3_events_dlq" {
  name                              = "${local.name}-s3-events-dlq"
  message_retention_seconds         = 1209600 # 14 days, the maximum
  kms_master_key_id                 = aws_kms_key.documents.arn
  kms_data_key_reuse_period_seconds = 3600
}

resource "aws_sqs_queue" "s3_events" {
  name                              = "${local.name}-s3-events"
  visibility_timeout_seconds        = 120
  receive_wait_time_seconds         = 20
  message_retention_seconds         = 345600 # 4 days
  kms_master_key_id                 = aws_kms_key.documents.arn
  kms_data_key_reuse_period_seconds = 3600

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.s3_events_dlq.arn
    maxReceiveCount     = var.s3_events_max_receive_count
  })
}

# Only the S3 events queue may use the dead-letter queue.
resource "aws_sqs_queue_redrive_allow_policy" "s3_events_dlq" {
  queue_url = aws_sqs_queue.s3_events_dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.s3_events.arn]
  })
}

data "aws_iam_policy_document" "s3_events_queue" {
  statement {
    sid       = "OnlyTheDocumentsBucketSends"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.s3_events.arn]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.documents.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.s3_events.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "s3_events" {
  queue_url = aws_sqs_queue.s3_events.id
  policy    = data.aws_iam_policy_document.s3_events_queue.json
}
