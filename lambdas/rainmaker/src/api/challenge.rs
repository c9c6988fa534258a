//! `user/nodes/mapping/initiate` and `user/nodes/mapping/verify`: challenge-response mapping,
//! see [`crate::challenge`].

use serde_json::json;

use super::{code, internal, Answer, Ctx, Request};
use crate::challenge::{self, Verdict};

/// `POST user/nodes/mapping/initiate`: no body, `{}` or `{"timeout": <seconds>}`; answers
/// `{"challenge", "request_id"}`, both strings (the iOS app decodes `[String: String]`).
pub async fn initiate(ctx: &Ctx, req: &Request) -> Result<Answer, Answer> {
    let user = req.user()?;
    let timeout = challenge::timeout_of(req.body.as_ref())
        .map_err(|why| Answer::failure(400, code::BAD_REQUEST, why))?;
    let request_id = super::nodes::new_request_id();
    let challenge = challenge::initiate(
        &ctx.db,
        &ctx.tables.mapping,
        &request_id,
        user,
        timeout,
        crate::runtime::now_ms(),
    )
    .await
    .map_err(|e| internal("recording the challenge", e))?;
    Ok(Answer::ok(
        json!({"challenge": challenge, "request_id": request_id}),
    ))
}

/// `POST user/nodes/mapping/verify`: `{"request_id", "node_id", "challenge_response"}`; maps the
/// user to the node when the node's key signed the challenge, answering
/// `{"status": "success", "description"}`.
pub async fn verify(ctx: &Ctx, req: &Request) -> Result<Answer, Answer> {
    let user = req.user()?;
    let response = challenge::parse_response(req.body.as_ref())
        .map_err(|why| Answer::failure(400, code::BAD_REQUEST, why))?;
    let verdict = challenge::verify(
        &ctx.db,
        &ctx.tables.mapping,
        &ctx.config,
        user,
        &response,
        crate::runtime::now_ms(),
    )
    .await
    .map_err(|e| internal("verifying the challenge response", e))?;
    let (id, node) = (&response.request_id, &response.node_id);
    match verdict {
        Verdict::Mapped => {
            tracing::info!(node_id = %node, request_id = %id, "challenge verified: node mapped");
            Ok(Answer::ok(json!({"status": "success",
                "description": format!("Node {node} is mapped to this user")})))
        }
        Verdict::Unknown => Err(Answer::failure(
            404,
            code::NOT_FOUND,
            format!("No pending mapping request {id} of this user (unknown or expired)"),
        )),
        Verdict::Used => Err(Answer::failure(
            400,
            code::BAD_REQUEST,
            format!("Mapping request {id} has already been answered: initiate a new one"),
        )),
        Verdict::Refused(why) => {
            tracing::warn!(node_id = %node, request_id = %id, %why, "challenge response refused");
            Err(Answer::failure(
                403,
                code::FORBIDDEN,
                format!(
                    "The challenge response does not verify with node {node}'s certificate: \
                     not mapped (initiate a new request to try again)"
                ),
            ))
        }
    }
}
