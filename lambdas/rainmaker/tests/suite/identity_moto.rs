//! The public sign-up and login routes (`auth` function) against moto's Cognito user pool: they
//! must not tell an attacker which accounts exist (issue 14, finding 10).

use crate::support::moto::Moto;
use serde_json::{json, Value};

struct Pool {
    _moto: Moto,
    ctx: rmdeploy_lambdas::auth::Ctx,
}

async fn pool() -> Pool {
    let moto = Moto::start();
    let config = crate::support::tables::config(&moto.url).await;
    let ctx = crate::support::tables::user_pool(&config).await;
    Pool { _moto: moto, ctx }
}

/// POST a body to a route of the auth function: (status, body).
async fn call(p: &Pool, route: &str, body: Value) -> (u64, Value) {
    let event = json!({"httpMethod": "POST", "path": format!("/v1/{route}"),
        "resource": format!("/v1/{route}"), "body": body.to_string(), "isBase64Encoded": false,
        "requestContext": {}});
    let r = rmdeploy_lambdas::auth::handle(&p.ctx, event).await.unwrap();
    (
        r["statusCode"].as_u64().unwrap(),
        serde_json::from_str(r["body"].as_str().unwrap()).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_sign_up_gives_the_same_answer_as_a_new_one() {
    let p = pool().await;
    let sign_up = |user: &str, password: &str| {
        call(
            &p,
            "user2",
            json!({"user_name": user, "password": password}),
        )
    };
    let new = sign_up("ann@example.com", "Secret-pass-1").await;
    assert_eq!(new.0, 200, "{}", new.1);
    assert_eq!(new.1["status"], "success");
    // The same name again, unconfirmed, then confirmed, with the same or another password.
    assert_eq!(sign_up("ann@example.com", "Secret-pass-1").await, new);
    assert_eq!(sign_up("ann@example.com", "Other-pass-2").await, new);
    let (status, _) = call(
        &p,
        "user2",
        json!({"user_name": "ann@example.com", "verification_code": "123456"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(sign_up("ann@example.com", "Other-pass-2").await, new);
    // Another new name gets that answer too.
    assert_eq!(sign_up("bob@example.com", "Secret-pass-1").await, new);

    // A password against the policy is refused alike for a taken name and a new one, before
    // Cognito is asked.
    let weak_taken = sign_up("ann@example.com", "short").await;
    let weak_new = sign_up("carl@example.com", "short").await;
    assert_eq!(weak_taken, weak_new);
    assert_eq!(weak_new.0, 400);
    assert_eq!(sign_up("dan@example.com", "alllowercase1").await.0, 400);

    // Confirming an account that does not exist reads as a wrong code. (moto confirms an account
    // already confirmed again, where Cognito refuses with NotAuthorizedException; the answer to
    // that is the same generic one, by the same code path.)
    let (status, nobody) = call(
        &p,
        "user2",
        json!({"user_name": "nobody@example.com", "verification_code": "000000"}),
    )
    .await;
    assert_eq!(
        (status, nobody["description"].as_str()),
        (
            400,
            Some("Confirmation failed: the code is wrong or has expired")
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_logins_give_one_answer_whoever_asks() {
    let p = pool().await;
    let (status, _) = call(
        &p,
        "user2",
        json!({"user_name": "ann@example.com", "password": "Secret-pass-1"}),
    )
    .await;
    assert_eq!(status, 200);
    let login = |user: &str, password: &str| {
        call(
            &p,
            "login2",
            json!({"user_name": user, "password": password}),
        )
    };
    // Not confirmed yet, a wrong password, an unknown user, a bad refresh token: one answer.
    let unconfirmed = login("ann@example.com", "Secret-pass-1").await;
    let _ = call(
        &p,
        "user2",
        json!({"user_name": "ann@example.com", "verification_code": "123456"}),
    )
    .await;
    let wrong_password = login("ann@example.com", "Wrong-pass-9").await;
    let unknown_user = login("nobody@example.com", "Secret-pass-1").await;
    let bad_refresh = call(&p, "login2", json!({"refreshtoken": "not-a-token"})).await;
    assert_eq!(wrong_password.0, 401, "{}", wrong_password.1);
    assert_eq!(
        wrong_password.1["description"],
        format!("Login failed: {}", rmdeploy_lambdas::auth::LOGIN_REFUSED)
    );
    assert_eq!(unknown_user, wrong_password);
    assert_eq!(bad_refresh, wrong_password);
    if unconfirmed.0 != 200 {
        assert_eq!(unconfirmed, wrong_password);
    }
    // The right password works.
    assert_eq!(login("ann@example.com", "Secret-pass-1").await.0, 200);
}
