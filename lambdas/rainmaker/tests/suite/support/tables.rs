//! The stack's DynamoDB tables in moto_server, made from the catalog the template is rendered
//! from (names, keys, the `by_node` index), and small readers for test assertions.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use rmdeploy::catalog::TABLES;

pub type Item = HashMap<String, AttributeValue>;

/// SDK configuration pointed at the emulator (us-east-1, test credentials).
pub async fn config(url: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(aws_credential_types::Credentials::for_tests())
        .load()
        .await
}

fn attr(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .unwrap()
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .unwrap()
}

/// Every table of the catalog, named as the catalog names it.
pub async fn stack_tables(db: &Client) {
    for t in TABLES {
        let mut attrs = vec![t.hash_key];
        let mut create = db
            .create_table()
            .table_name(t.name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(t.hash_key, KeyType::Hash));
        if let Some(r) = t.range_key {
            attrs.push(r);
            create = create.key_schema(key(r, KeyType::Range));
        }
        if let Some((index, hash, range)) = t.index {
            attrs.extend([hash, range]);
            create = create.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index)
                    .key_schema(key(hash, KeyType::Hash))
                    .key_schema(key(range, KeyType::Range))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::KeysOnly)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            );
        }
        attrs.sort();
        attrs.dedup();
        for a in attrs {
            create = create.attribute_definitions(attr(a));
        }
        // Each test has its own moto: a table that exists was made by this very call, whose
        // first answer was lost (a busy machine) and which the SDK then retried.
        match create.send().await {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) => {}
            Err(e) => panic!("CreateTable: {e:?}"),
        }
    }
}

pub async fn items(db: &Client, name: &str) -> Vec<Item> {
    db.scan()
        .table_name(name)
        .send()
        .await
        .unwrap()
        .items()
        .to_vec()
}

/// A string or number attribute as text.
pub fn s(item: &Item, k: &str) -> String {
    match &item[k] {
        AttributeValue::S(v) => v.clone(),
        AttributeValue::N(v) => v.clone(),
        other => format!("{other:?}"),
    }
}

/// A Cognito user pool with an app client as the stack makes it (password and refresh-token
/// login), and the `auth` function's context for it.
pub async fn user_pool(config: &aws_config::SdkConfig) -> rmdeploy_lambdas::auth::Ctx {
    use aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType as Flow;
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(config);
    let pool = cognito
        .create_user_pool()
        .pool_name("users")
        .send()
        .await
        .unwrap();
    let pool_id = pool.user_pool().unwrap().id().unwrap().to_string();
    let client = cognito
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("app")
        .explicit_auth_flows(Flow::AllowUserPasswordAuth)
        .explicit_auth_flows(Flow::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap();
    let client_id = client
        .user_pool_client()
        .unwrap()
        .client_id()
        .unwrap()
        .to_string();
    rmdeploy_lambdas::auth::Ctx { cognito, client_id }
}
