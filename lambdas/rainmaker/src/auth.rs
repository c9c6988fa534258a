//! The `auth` function: `POST user2` (sign-up, then confirmation with the emailed code) and
//! `POST login2` (password, or a refresh token) through the stack's Cognito user pool, answering
//! as the ESP RainMaker v1 API does. Only with Cognito identity (with OAuth2 the issuer signs users
//! in). A function of its own: these routes take no token, and the function holds no table or IoT
//! permission, and the `api` function does not link the Cognito SDK.
//!
//! Neither route tells whether an account exists: signing up with a name already taken gets the
//! answer a new name gets (same status, same body), and every refused login or confirmation gets
//! the same message whatever Cognito's reason (unknown user, wrong password, not confirmed,
//! already confirmed, wrong code). The password policy is checked here, before Cognito, so that a
//! weak password is refused alike for a taken name and a new one.

use aws_sdk_cognitoidentityprovider::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use serde_json::json;

use crate::http::{code, internal, Answer, Request};

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

/// What the caller sees when Cognito refuses a sign-up, a confirmation or a login: the same
/// answer whatever the reason, so that it tells nothing about the account. Service faults stay
/// 500 (logged); Cognito's pool-wide request throttling is 429.
fn refused<E: ProvideErrorMetadata + std::error::Error + 'static>(
    what: &str,
    status: u16,
    error_code: u32,
    generic: &str,
    err: aws_sdk_cognitoidentityprovider::error::SdkError<E>,
) -> Answer {
    match err.as_service_error().and_then(|e| e.code()) {
        Some(c) if c.contains("InternalError") => internal(what, DisplayErrorContext(err)),
        Some("TooManyRequestsException") => Answer::failure(
            429,
            error_code,
            format!("{what}: too many requests; try again later"),
        ),
        Some(c) => {
            tracing::info!(reason = c, "{what}");
            Answer::failure(status, error_code, format!("{what}: {generic}"))
        }
        None => internal(what, DisplayErrorContext(err)),
    }
}

/// The user pool's password policy (`templates/stack/identity.yaml.tera`: at least 8 characters,
/// lower case, upper case and a digit), checked before Cognito sees the password.
pub fn password_problem(password: &str) -> Option<&'static str> {
    let has = |f: fn(&char) -> bool| password.chars().any(|c| f(&c));
    if password.chars().count() < 8
        || !has(char::is_ascii_lowercase)
        || !has(char::is_ascii_uppercase)
        || !has(char::is_ascii_digit)
        || password.trim() != password
    {
        Some("the password needs at least 8 characters with a lower-case letter, an upper-case letter and a digit, and no space at either end")
    } else {
        None
    }
}

/// The answer to a sign-up Cognito accepted, or refused because the name is taken.
fn signed_up() -> Answer {
    Answer::ok(json!({"status": "success",
        "description": "User created; confirm with the verification code sent to you"}))
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
            .map_err(|e| {
                refused(
                    "Confirmation failed",
                    400,
                    code::SIGN_UP_FAILED,
                    "the code is wrong or has expired",
                    e,
                )
            })?;
        return Ok(Answer::ok(
            json!({"status": "success", "description": "User confirmed"}),
        ));
    }
    let password = req.field("password")?;
    if let Some(problem) = password_problem(password) {
        return Err(Answer::failure(
            400,
            code::SIGN_UP_FAILED,
            format!("Sign-up failed: {problem}"),
        ));
    }
    match cognito
        .sign_up()
        .client_id(client_id)
        .username(user_name)
        .password(password)
        .send()
        .await
    {
        Ok(_) => Ok(signed_up()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_username_exists_exception()) =>
        {
            // The name is taken: answer as for a new one. An owner who never confirmed gets a
            // new code (what Cognito says to that is not shown either).
            if let Err(e) = cognito
                .resend_confirmation_code()
                .client_id(client_id)
                .username(user_name)
                .send()
                .await
            {
                tracing::info!(reason = ?e.as_service_error().and_then(|s| s.code()), "no new code for a name already taken");
            }
            Ok(signed_up())
        }
        Err(e) => Err(refused(
            "Sign-up failed",
            400,
            code::SIGN_UP_FAILED,
            "the user name must be an email address, and the password must follow the policy",
            e,
        )),
    }
}

/// The one reason a refused login gives.
pub const LOGIN_REFUSED: &str =
    "the user name or password is wrong, or the account is not confirmed yet";

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
        .map_err(|e| refused("Login failed", 401, code::LOGIN_FAILED, LOGIN_REFUSED, e))?;
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
