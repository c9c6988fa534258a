//! Writes that are safe to repeat: a QoS 1 redelivery or a Lambda retry must change nothing twice.

use aws_sdk_dynamodb::error::SdkError;

/// Whether a DynamoDB call failed only because its condition did not hold (the write was a
/// duplicate, or older than what is stored): not an error for an idempotent handler.
pub fn condition_failed<E, R>(err: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

/// Epoch seconds `days` after a time in milliseconds: a TTL attribute.
pub fn expires_after(received_at_ms: i64, days: i64) -> i64 {
    received_at_ms / 1000 + days * 86_400
}

/// The answer of a handler that drops a malformed message (logged, never retried).
pub fn dropped(what: &str, why: &str) -> serde_json::Value {
    tracing::warn!(reason = %why, "dropping a malformed {what}");
    serde_json::json!({ "stored": false, "reason": why })
}
