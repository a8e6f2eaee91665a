output "api_load_balancer_dns_name" {
  description = "Point the API's domain (the certificate's name) here: a CNAME or an alias record."
  value       = aws_lb.api.dns_name
}

output "api_load_balancer_zone_id" {
  description = "Hosted zone of the load balancer, for a Route 53 alias record."
  value       = aws_lb.api.zone_id
}

output "documents_bucket" {
  description = "RAGSTREAM_S3_BUCKET: upload documents here (`ragstream ingest` or any S3 client)."
  value       = aws_s3_bucket.documents.id
}

output "s3_events_queue_url" {
  description = "RAGSTREAM_S3_EVENTS_SQS_QUEUE_URL of the intake service."
  value       = aws_sqs_queue.s3_events.url
}

output "s3_events_dlq_url" {
  description = "S3 events that failed s3_events_max_receive_count times; redrive them with `aws sqs start-message-move-task`."
  value       = aws_sqs_queue.s3_events_dlq.url
}

output "kafka_bootstrap_brokers" {
  description = "RAGSTREAM_KAFKA_BOOTSTRAP_SERVERS (TLS + IAM auth, port 9098)."
  value       = aws_msk_cluster.main.bootstrap_brokers_sasl_iam
}

output "msk_cluster_arn" {
  description = "The MSK cluster."
  value       = aws_msk_cluster.main.arn
}

output "database_endpoint" {
  description = "host:port of Postgres, for the database-url secret."
  value       = aws_db_instance.main.endpoint
}

output "database_master_secret_arn" {
  description = "Secret holding the RDS master user's password (generated and rotated by RDS); use it only to create the apps' role."
  value       = aws_db_instance.main.master_user_secret[0].secret_arn
}

output "secret_arns" {
  description = "Secrets whose values to put before the services can start (README.md), by name."
  value       = { for key, secret in aws_secretsmanager_secret.app : key => secret.arn }
}

output "ecs_cluster_name" {
  description = "The ECS cluster."
  value       = aws_ecs_cluster.main.name
}

output "ecs_services" {
  description = "ECS service of each deployable."
  value       = { for name, service in aws_ecs_service.service : name => service.name }
}

output "task_role_arns" {
  description = "IAM role each deployable's code runs as."
  value       = { for name, role in aws_iam_role.task : name => role.arn }
}

output "vpc_id" {
  description = "The VPC."
  value       = aws_vpc.main.id
}

output "private_subnet_ids" {
  description = "Subnets of the tasks, e.g. for a one-off `ragstream reindex` task (aws ecs run-task)."
  value       = aws_subnet.private[*].id
}
