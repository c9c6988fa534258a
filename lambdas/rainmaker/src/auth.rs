//! The `auth` function: `POST user2` (sign-up, then confirmation with the emailed code) and
//! `POST login2` (password, or a refresh token) through the stack's Cognito user pool, answering
//! as the ESP RainMaker v1 API does. Only with Cognito identity (with OAuth2 the issuer signs users
//! in). A function of its own: these routes take no token, and the function holds no table or IoT
//! permission, and the `api` function does not link the Cognito SDK.

use aws_sdk_cognitoidentityprovider::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use serde_json::json;

use crate::api::{code, internal, Answer, Request};

/// The user pool's app client.
pub struct Ctx {
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub client_id: String,
}

/// Answer one proxy event.
pub async fn handle(
    ctx: &Ctx,
    event: serde_json::Value,
) -> Result<serde_json::Value, lambda_runtime::Error> {
    let answer = match Request::from_proxy(&event) {
        Ok(req) => match (req.method.as_str(), req.route.as_str()) {
            ("POST", "user2") => sign_up(ctx, &req).await,
            ("POST", "login2") => login(ctx, &req).await,
            (m, r) => Err(Answer::failure(
                404,
                code::NO_ROUTE,
                format!("No API {m} /v1/{r}"),
            )),
        }
        .unwrap_or_else(|a| a),
        Err(a) => a,
    };
    Ok(answer.to_proxy())
}

/// What Cognito refused, for the caller (its messages hold no secrets); service faults stay 500.
fn refused<E: ProvideErrorMetadata + std::error::Error + 'static>(
    what: &str,
    status: u16,
    error_code: u32,
    err: aws_sdk_cognitoidentityprovider::error::SdkError<E>,
) -> Answer {
    match err.as_service_error() {
        Some(e) if e.code().is_some_and(|c| !c.contains("InternalError")) => Answer::failure(
            status,
            error_code,
            format!(
                "{what}: {}",
                e.message().unwrap_or(e.code().unwrap_or("refused"))
            ),
        ),
        _ => internal(what, DisplayErrorContext(err)),
    }
}

/// `POST user2`: `{"user_name", "password"}` signs up; `{"user_name", "verification_code"}`
/// confirms.
pub async fn sign_up(ctx: &Ctx, req: &Request) -> Result<Answer, Answer> {
    let (cognito, client_id) = (&ctx.cognito, ctx.client_id.as_str());
    let user_name = req.field("user_name")?;
    if let Ok(code_sent) = req.field("verification_code") {
        cognito
            .confirm_sign_up()
            .client_id(client_id)
            .username(user_name)
            .confirmation_code(code_sent)
            .send()
            .await
            .map_err(|e| refused("Confirmation failed", 400, code::SIGN_UP_FAILED, e))?;
        return Ok(Answer::ok(
            json!({"status": "success", "description": "User confirmed"}),
        ));
    }
    let password = req.field("password")?;
    cognito
        .sign_up()
        .client_id(client_id)
        .username(user_name)
        .password(password)
        .send()
        .await
        .map_err(|e| refused("Sign-up failed", 400, code::SIGN_UP_FAILED, e))?;
    Ok(Answer::ok(json!({"status": "success",
        "description": "User created; confirm with the verification code sent to you"})))
}

/// `POST login2`: `{"user_name", "password"}` or `{"refreshtoken"}`.
pub async fn login(ctx: &Ctx, req: &Request) -> Result<Answer, Answer> {
    let (cognito, client_id) = (&ctx.cognito, ctx.client_id.as_str());
    let call = cognito.initiate_auth().client_id(client_id);
    let (call, refreshing) = match req.field("refreshtoken") {
        Ok(token) => (
            call.auth_flow(AuthFlowType::RefreshTokenAuth)
                .auth_parameters("REFRESH_TOKEN", token),
            Some(token.to_string()),
        ),
        Err(_) => (
            call.auth_flow(AuthFlowType::UserPasswordAuth)
                .auth_parameters("USERNAME", req.field("user_name")?)
                .auth_parameters("PASSWORD", req.field("password")?),
            None,
        ),
    };
    let out = call
        .send()
        .await
        .map_err(|e| refused("Login failed", 401, code::LOGIN_FAILED, e))?;
    let Some(tokens) = out.authentication_result() else {
        return Err(Answer::failure(
            401,
            code::LOGIN_FAILED,
            format!(
                "Login needs a further step this API does not offer: {:?}",
                out.challenge_name()
            ),
        ));
    };
    let refresh = tokens.refresh_token().map(str::to_string).or(refreshing);
    Ok(Answer::ok(json!({
        "status": "success",
        "description": "Login successful",
        "idtoken": tokens.id_token(),
        "accesstoken": tokens.access_token(),
        "refreshtoken": refresh,
    })))
}
