//! The deploy engine against recorded CloudFormation responses (aws-smithy-mocks), for what the
//! emulator lacks: per-resource and failure events, nested stacks, rollback states, cancelling an
//! update, termination protection, leftover change sets and drift.

use aws_sdk_cloudformation::operation::continue_update_rollback::ContinueUpdateRollbackOutput;
use aws_sdk_cloudformation::operation::delete_change_set::DeleteChangeSetOutput;
use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
use aws_sdk_cloudformation::operation::describe_stack_drift_detection_status::DescribeStackDriftDetectionStatusOutput;
use aws_sdk_cloudformation::operation::describe_stack_resource_drifts::DescribeStackResourceDriftsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
use aws_sdk_cloudformation::operation::detect_stack_drift::DetectStackDriftOutput;
use aws_sdk_cloudformation::operation::list_change_sets::ListChangeSetsOutput;
use aws_sdk_cloudformation::operation::update_termination_protection::UpdateTerminationProtectionOutput;
use aws_sdk_cloudformation::types::{
    ChangeSetSummary, ExecutionStatus, PropertyDifference, StackDriftDetectionStatus,
    StackDriftStatus, StackResourceDrift, StackResourceDriftStatus,
};
use aws_sdk_cloudformation::Client;
use aws_smithy_mocks::mock;
use aws_smithy_types::DateTime;

use crate::support::scenario::{
    event, stack, stacks, Scenario, NESTED_ID, STACK, STACK_ID, STACK_TYPE,
};
use rmdeploy::deploy::apply;
use rmdeploy::deploy::changeset::{ChangeSet, Kind};
use rmdeploy::deploy::events::StackEvent as Event;
use rmdeploy::deploy::interrupt::Interrupt;
use rmdeploy::deploy::state::{self, State};
use rmdeploy::deploy::watch::Observer;

#[derive(Default)]
struct Recorder {
    events: Vec<Event>,
    notes: Vec<String>,
}

impl Observer for Recorder {
    fn event(&mut self, e: &Event) {
        self.events.push(e.clone());
    }
    fn note(&mut self, message: &str) {
        self.notes.push(message.to_string());
    }
}

fn change_set(kind: Kind) -> ChangeSet {
    ChangeSet {
        stack: STACK.into(),
        name: "rmdeploy-1".into(),
        stack_id: None,
        kind,
        changes: Vec::new(),
    }
}

/// A failed first creation whose cause is inside a nested stack: the progress shows every event
/// in order, and the failure named is the nested resource's, not the cancellations after it.
#[tokio::test]
async fn a_failed_create_names_the_earliest_failure_inside_the_nested_stack() {
    let start = event(
        0,
        STACK_ID,
        STACK,
        STACK_TYPE,
        "REVIEW_IN_PROGRESS",
        Some("User Initiated"),
    );
    let run = vec![
        start.clone(),
        event(
            1,
            STACK_ID,
            STACK,
            STACK_TYPE,
            "CREATE_IN_PROGRESS",
            Some("User Initiated"),
        ),
        event(
            2,
            STACK_ID,
            "NodesTable",
            "AWS::DynamoDB::Table",
            "CREATE_IN_PROGRESS",
            None,
        ),
        event(
            3,
            STACK_ID,
            "Identity",
            STACK_TYPE,
            "CREATE_IN_PROGRESS",
            None,
        ),
        event(
            4,
            STACK_ID,
            "Identity",
            STACK_TYPE,
            "CREATE_FAILED",
            Some("Embedded stack rainmaker-Identity-1 was not successfully created"),
        ),
        event(
            5,
            STACK_ID,
            "NodesTable",
            "AWS::DynamoDB::Table",
            "CREATE_FAILED",
            Some("Resource creation cancelled"),
        ),
        event(
            6,
            STACK_ID,
            STACK,
            STACK_TYPE,
            "ROLLBACK_IN_PROGRESS",
            Some("The following resource(s) failed to create: [Identity, NodesTable]"),
        ),
        event(
            7,
            STACK_ID,
            "NodesTable",
            "AWS::DynamoDB::Table",
            "DELETE_COMPLETE",
            None,
        ),
        event(8, STACK_ID, STACK, STACK_TYPE, "ROLLBACK_COMPLETE", None),
    ];
    let nested = vec![
        event(
            1,
            NESTED_ID,
            "rainmaker-Identity-1",
            STACK_TYPE,
            "CREATE_IN_PROGRESS",
            None,
        ),
        event(
            2,
            NESTED_ID,
            "UserPool",
            "AWS::Cognito::UserPool",
            "CREATE_FAILED",
            Some("Cognito is not available in this region"),
        ),
        event(
            3,
            NESTED_ID,
            "rainmaker-Identity-1",
            STACK_TYPE,
            "ROLLBACK_COMPLETE",
            None,
        ),
    ];
    let scenario = Scenario::new()
        .statuses(&["REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE"])
        .event_pages(STACK_ID, vec![vec![start], run])
        .event_pages(NESTED_ID, vec![nested])
        .executes();
    let clients = scenario.clients();

    let mut seen = Recorder::default();
    let outcome = apply::execute(
        &clients,
        &change_set(Kind::Create),
        &mut seen,
        &Interrupt::never(),
    )
    .await
    .unwrap();

    assert_eq!(scenario.calls("ExecuteChangeSet"), 1);
    assert!(!outcome.succeeded);
    assert!(!outcome.cancelled);
    assert_eq!(outcome.status, "ROLLBACK_COMPLETE");
    let shown: Vec<(&str, &str)> = seen
        .events
        .iter()
        .map(|e| (e.logical_id.as_str(), e.status.as_str()))
        .collect();
    assert_eq!(
        shown.len(),
        8,
        "every event after the mark, once: {shown:?}"
    );
    assert_eq!(shown[0], (STACK, "CREATE_IN_PROGRESS"));
    assert_eq!(shown[7], (STACK, "ROLLBACK_COMPLETE"));
    let failure = outcome.failure.expect("a failure is named");
    assert_eq!(failure.nested_in, vec!["Identity"]);
    assert_eq!(failure.logical_id, "UserPool");
    assert_eq!(failure.resource_type, "AWS::Cognito::UserPool");
    assert_eq!(failure.reason, "Cognito is not available in this region");
    assert_eq!(
        failure.to_string(),
        "Identity › UserPool (AWS::Cognito::UserPool) CREATE_FAILED: Cognito is not available in this region"
    );
}

/// A stop request during an update cancels it; CloudFormation's rollback is followed to its end.
#[tokio::test]
async fn a_stop_request_cancels_an_update_and_reports_where_the_stack_ends() {
    let scenario = Scenario::new()
        .statuses(&[
            "UPDATE_IN_PROGRESS",
            "UPDATE_IN_PROGRESS",
            "UPDATE_ROLLBACK_COMPLETE",
        ])
        .events(vec![
            event(
                1,
                STACK_ID,
                STACK,
                STACK_TYPE,
                "UPDATE_IN_PROGRESS",
                Some("User Initiated"),
            ),
            event(
                2,
                STACK_ID,
                "ParamsFunction",
                "AWS::Lambda::Function",
                "UPDATE_FAILED",
                Some("Resource update cancelled"),
            ),
            event(
                3,
                STACK_ID,
                STACK,
                STACK_TYPE,
                "UPDATE_ROLLBACK_COMPLETE",
                None,
            ),
        ])
        .executes()
        .cancels(Some(STACK_ID));
    let clients = scenario.clients();
    let (trigger, interrupt) = Interrupt::new();
    trigger.fire();
    let mut seen = Recorder::default();
    let outcome = apply::execute(&clients, &change_set(Kind::Update), &mut seen, &interrupt)
        .await
        .unwrap();
    assert_eq!(
        scenario.calls("CancelUpdateStack"),
        1,
        "CancelUpdateStack once"
    );
    assert!(outcome.cancelled);
    assert!(!outcome.succeeded);
    assert_eq!(outcome.status, "UPDATE_ROLLBACK_COMPLETE");
    assert!(
        seen.notes
            .iter()
            .any(|n| n.contains("cancelling the update")),
        "{:?}",
        seen.notes
    );
}

/// A first creation cannot be cancelled: nothing is called, the user is told, it is followed.
#[tokio::test]
async fn a_stop_request_during_a_create_is_explained_not_sent() {
    let scenario = Scenario::new()
        .statuses(&[
            "CREATE_IN_PROGRESS",
            "CREATE_IN_PROGRESS",
            "CREATE_COMPLETE",
        ])
        .events(vec![])
        .executes()
        .cancels(None);
    let clients = scenario.clients();
    let (trigger, interrupt) = Interrupt::new();
    trigger.fire();
    let mut seen = Recorder::default();
    let outcome = apply::execute(&clients, &change_set(Kind::Create), &mut seen, &interrupt)
        .await
        .unwrap();
    assert_eq!(scenario.calls("CancelUpdateStack"), 0);
    assert!(outcome.succeeded);
    assert!(!outcome.cancelled);
    assert!(
        seen.notes.iter().any(|n| n.contains("cannot cancel")),
        "{:?}",
        seen.notes
    );
}

/// ROLLBACK_COMPLETE after a failed first creation: classified with its cause (only the last
/// operation's events are read), then deleted and followed to DELETE_COMPLETE.
#[tokio::test]
async fn rollback_complete_is_explained_then_deleted() {
    let delete = mock!(Client::delete_stack)
        .match_requests(|r| r.stack_name() == Some(STACK_ID))
        .then_output(|| DeleteStackOutput::builder().build());
    let scenario = Scenario::new()
        .statuses(&["ROLLBACK_COMPLETE", "DELETE_IN_PROGRESS", "DELETE_COMPLETE"])
        .events(vec![
            // an older operation, which must not be blamed
            event(
                1,
                STACK_ID,
                "OldRole",
                "AWS::IAM::Role",
                "CREATE_FAILED",
                Some("old failure"),
            ),
            event(
                2,
                STACK_ID,
                STACK,
                STACK_TYPE,
                "CREATE_IN_PROGRESS",
                Some("User Initiated"),
            ),
            event(
                3,
                STACK_ID,
                "ParamsRole",
                "AWS::IAM::Role",
                "CREATE_FAILED",
                Some("MalformedPolicyDocument: Policy has an invalid action"),
            ),
            event(4, STACK_ID, STACK, STACK_TYPE, "ROLLBACK_COMPLETE", None),
        ])
        .with(&delete);
    let clients = scenario.clients();
    let inspection = state::inspect(&clients, STACK).await.unwrap();
    let State::FailedCreate { failure } = &inspection.state else {
        panic!("{:?}", inspection.state);
    };
    let failure = failure.as_ref().unwrap();
    assert_eq!(failure.logical_id, "ParamsRole");
    assert!(failure.reason.contains("invalid action"));
    let outcome = state::delete(
        &clients,
        &inspection,
        &[],
        &mut Recorder::default(),
        &Interrupt::never(),
    )
    .await
    .unwrap();
    assert_eq!(delete.num_calls(), 1);
    assert!(outcome.succeeded);
    assert_eq!(outcome.status, "DELETE_COMPLETE");
}

/// UPDATE_ROLLBACK_FAILED is recovered with ContinueUpdateRollback, skipping the named resources.
#[tokio::test]
async fn update_rollback_failed_continues_the_rollback_skipping_named_resources() {
    let proceed = mock!(Client::continue_update_rollback)
        .match_requests(|r| {
            r.stack_name() == Some(STACK) && r.resources_to_skip() == ["NodesTable".to_string()]
        })
        .then_output(|| ContinueUpdateRollbackOutput::builder().build());
    let scenario = Scenario::new()
        .statuses(&[
            "UPDATE_ROLLBACK_FAILED",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "UPDATE_ROLLBACK_COMPLETE",
        ])
        .events(vec![
            event(
                1,
                STACK_ID,
                STACK,
                STACK_TYPE,
                "UPDATE_IN_PROGRESS",
                Some("User Initiated"),
            ),
            event(
                2,
                STACK_ID,
                "NodesTable",
                "AWS::DynamoDB::Table",
                "UPDATE_FAILED",
                Some("Table already exists"),
            ),
            event(
                3,
                STACK_ID,
                "NodesTable",
                "AWS::DynamoDB::Table",
                "UPDATE_FAILED",
                Some("rollback failed"),
            ),
            event(
                4,
                STACK_ID,
                STACK,
                STACK_TYPE,
                "UPDATE_ROLLBACK_FAILED",
                None,
            ),
        ])
        .with(&proceed);
    let clients = scenario.clients();
    let inspection = state::inspect(&clients, STACK).await.unwrap();
    let State::RollbackFailed { failure } = &inspection.state else {
        panic!("{:?}", inspection.state);
    };
    assert_eq!(failure.as_ref().unwrap().reason, "Table already exists");
    let outcome = state::continue_rollback(
        &clients,
        STACK,
        &["NodesTable".to_string()],
        &mut Recorder::default(),
        &Interrupt::never(),
    )
    .await
    .unwrap();
    assert_eq!(proceed.num_calls(), 1, "called with the resource to skip");
    assert!(outcome.succeeded);
}

/// Termination protection follows the profile, and is only touched when it differs.
#[tokio::test]
async fn termination_protection_is_set_only_when_it_differs() {
    let on = mock!(Client::update_termination_protection)
        .match_requests(|r| {
            r.enable_termination_protection() == Some(true) && r.stack_name() == Some(STACK_ID)
        })
        .then_output(|| UpdateTerminationProtectionOutput::builder().build());
    let clients = Scenario::new().with(&on).clients();
    let unprotected = stack("CREATE_COMPLETE");
    assert!(
        state::set_termination_protection(&clients, &unprotected, true)
            .await
            .unwrap()
    );
    assert_eq!(on.num_calls(), 1);
    assert!(
        !state::set_termination_protection(&clients, &unprotected, false)
            .await
            .unwrap()
    );
    assert_eq!(on.num_calls(), 1, "no call when it already matches");
}

/// A change set an interrupted run left is deleted; other tools' and executed ones are not.
#[tokio::test]
async fn only_rmdeploy_change_sets_never_executed_are_removed() {
    let summary = |name: &str, status: ExecutionStatus| {
        ChangeSetSummary::builder()
            .change_set_name(name)
            .stack_name(STACK)
            .execution_status(status)
            .build()
    };
    let list = mock!(Client::list_change_sets).then_output(move || {
        ListChangeSetsOutput::builder()
            .summaries(summary("rmdeploy-1", ExecutionStatus::Available))
            .summaries(summary("someone-elses", ExecutionStatus::Available))
            .summaries(summary("rmdeploy-0", ExecutionStatus::ExecuteComplete))
            .build()
    });
    let delete = mock!(Client::delete_change_set)
        .match_requests(|r| r.change_set_name() == Some("rmdeploy-1"))
        .then_output(|| DeleteChangeSetOutput::builder().build());
    let clients = Scenario::new().with(&list).with(&delete).clients();
    let removed = state::remove_leftover_change_sets(&clients, STACK)
        .await
        .unwrap();
    assert_eq!(removed, vec!["rmdeploy-1"]);
    assert_eq!(delete.num_calls(), 1);
}

/// Drift detection is waited for and the differing resources listed.
#[tokio::test]
async fn drift_lists_modified_and_deleted_resources() {
    let detect = mock!(Client::detect_stack_drift).then_output(|| {
        DetectStackDriftOutput::builder()
            .stack_drift_detection_id("d-1")
            .build()
    });
    let status = mock!(Client::describe_stack_drift_detection_status)
        .sequence()
        .output(|| {
            DescribeStackDriftDetectionStatusOutput::builder()
                .stack_id(STACK_ID)
                .stack_drift_detection_id("d-1")
                .detection_status(StackDriftDetectionStatus::DetectionInProgress)
                .timestamp(DateTime::from_secs(0))
                .build()
        })
        .output(|| {
            DescribeStackDriftDetectionStatusOutput::builder()
                .stack_id(STACK_ID)
                .stack_drift_detection_id("d-1")
                .detection_status(StackDriftDetectionStatus::DetectionComplete)
                .stack_drift_status(StackDriftStatus::Drifted)
                .timestamp(DateTime::from_secs(0))
                .build()
        })
        .build();
    let drift = |logical: &str, state: StackResourceDriftStatus| {
        StackResourceDrift::builder()
            .stack_id(STACK_ID)
            .logical_resource_id(logical)
            .resource_type("AWS::Lambda::Function")
            .stack_resource_drift_status(state)
            .timestamp(DateTime::from_secs(0))
            .property_differences(
                PropertyDifference::builder()
                    .property_path("/MemorySize")
                    .expected_value("256")
                    .actual_value("1024")
                    .difference_type(aws_sdk_cloudformation::types::DifferenceType::NotEqual)
                    .build(),
            )
            .build()
    };
    let resources = mock!(Client::describe_stack_resource_drifts).then_output(move || {
        DescribeStackResourceDriftsOutput::builder()
            .stack_resource_drifts(drift("ParamsFunction", StackResourceDriftStatus::Modified))
            .stack_resource_drifts(drift("ApiFunction", StackResourceDriftStatus::InSync))
            .build()
    });
    let clients = Scenario::new()
        .with(&detect)
        .with(&status)
        .with(&resources)
        .clients();
    let found = rmdeploy::deploy::drift::detect(&clients, STACK)
        .await
        .unwrap();
    assert_eq!(found.status, "DRIFTED");
    assert_eq!(found.drifted.len(), 1);
    assert_eq!(found.drifted[0].logical_id, "ParamsFunction");
    assert_eq!(found.drifted[0].properties, vec!["/MemorySize"]);
    assert_eq!(status.num_calls(), 2, "waited for the detection");
}

/// `plan` on a stack whose first creation failed shows the create `apply` would do; on a stack
/// whose rollback failed it says what to run instead of failing on the change set.
#[tokio::test]
async fn plan_explains_failed_states_instead_of_failing() {
    let resolved = rmdeploy::profile::load(Some("dev"), None).unwrap();
    let rendered = rmdeploy::render::render(&resolved, None).unwrap();
    let bootstrap = || {
        let mut s = stack("CREATE_COMPLETE");
        s.stack_name = Some("rmdeploy-bootstrap".into());
        s.outputs = Some(vec![aws_sdk_cloudformation::types::Output::builder()
            .output_key("ArtifactsBucketName")
            .output_value("artifacts-bucket")
            .build()]);
        DescribeStacksOutput::builder().stacks(s).build()
    };
    let endpoint = crate::support::answers::Answers::new().on(
        "GET",
        "/endpoint?endpointType=iot%3AData-ATS",
        200,
        r#"{"endpointAddress":"abc-ats.iot.cn-north-1.amazonaws.com.cn"}"#,
    );
    for (status, fails) in [
        ("ROLLBACK_COMPLETE", false),
        ("UPDATE_ROLLBACK_FAILED", true),
    ] {
        let boot = mock!(Client::describe_stacks)
            .match_requests(|r| r.stack_name() == Some("rmdeploy-bootstrap"))
            .then_output(bootstrap);
        let main = mock!(Client::describe_stacks)
            .match_requests(|r| r.stack_name() == Some("rainmaker-dev"))
            .then_output(move || stacks(status));
        let clients = Scenario::new()
            .with(&boot)
            .with(&main)
            .iot(endpoint.clone())
            .clients();
        let result =
            rmdeploy::deploy::live::plan(&clients, "rainmaker-dev", &rendered.stack, &[]).await;
        if fails {
            let err = result.unwrap_err().to_string();
            assert!(err.contains("UPDATE_ROLLBACK_FAILED"), "{err}");
            assert!(err.contains("rollback"), "{err}");
            continue;
        }
        let plan = result.unwrap();
        assert_eq!(plan.kind, Kind::Create);
        assert_eq!(plan.stack_status.as_deref(), Some("ROLLBACK_COMPLETE"));
        assert_eq!(
            plan.changes.len(),
            rmdeploy::plan::resources(&rendered.stack).len()
        );
        assert!(
            plan.notes
                .iter()
                .any(|n| n.contains("deletes it and creates it again")),
            "{:?}",
            plan.notes
        );
        assert_eq!(plan.parameters["ArtifactsBucket"], "artifacts-bucket");
        // the endpoint read from IoT (signed, percent-encoded query), never built by hand
        assert_eq!(
            plan.parameters["IotDataEndpoint"],
            "abc-ats.iot.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            endpoint.calls("GET", "/endpoint?endpointType=iot%3AData-ATS"),
            1
        );
    }
}

/// What CloudFormation answers a retried call whose first attempt went through but whose answer
/// was lost (moto answers these differently): the run carries on from what was done.
mod retried_calls {
    use super::*;
    use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetError;
    use aws_sdk_cloudformation::operation::delete_change_set::DeleteChangeSetError;
    use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetError;
    use aws_smithy_types::error::ErrorMetadata;
    use rmdeploy::deploy::changeset::{self, Request, TemplateSource};

    fn meta(code: &str, message: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message(message).build()
    }

    #[tokio::test]
    async fn a_change_set_that_already_exists_is_this_runs_own() {
        let create = mock!(Client::create_change_set)
            .match_requests(|r| {
                r.client_token().is_some() && r.client_token() == r.change_set_name()
            })
            .then_error(|| {
                CreateChangeSetError::generic(meta(
                    "AlreadyExistsException",
                    "ChangeSet rmdeploy-1 already exists",
                ))
            });
        let clients = Scenario::new()
            .with(&create)
            .change_set(ExecutionStatus::Available)
            .clients();
        let request = Request {
            stack: STACK.into(),
            template: TemplateSource::Body("{}".into()),
            parameters: Vec::new(),
            kind: Kind::Update,
            description: "test".into(),
        };
        let set = changeset::create(&clients, &request).await.unwrap();
        assert_eq!(create.num_calls(), 1, "sent with its name as ClientToken");
        assert!(set.name.starts_with("rmdeploy-"), "{}", set.name);
        assert_eq!(set.changes.len(), 1);
    }

    #[tokio::test]
    async fn an_execution_already_under_way_is_followed() {
        let execute = mock!(Client::execute_change_set)
            .match_requests(|r| r.client_request_token() == Some("exec-rmdeploy-1"))
            .then_error(|| {
                ExecuteChangeSetError::generic(meta(
                    "InvalidChangeSetStatus",
                    "ChangeSet [rmdeploy-1] cannot be executed in its current execution status of [EXECUTE_IN_PROGRESS]",
                ))
            });
        let clients = Scenario::new()
            .with(&execute)
            .change_set(ExecutionStatus::ExecuteInProgress)
            .statuses(&["UPDATE_COMPLETE"])
            .events(vec![])
            .clients();
        let (_trigger, interrupt) = Interrupt::new();
        let outcome = apply::execute(
            &clients,
            &change_set(Kind::Update),
            &mut Recorder::default(),
            &interrupt,
        )
        .await
        .unwrap();
        assert!(outcome.succeeded, "{outcome:?}");
        assert_eq!(execute.num_calls(), 1);
    }

    #[tokio::test]
    async fn an_execution_refused_for_another_reason_is_an_error() {
        let execute = mock!(Client::execute_change_set).then_error(|| {
            ExecuteChangeSetError::generic(meta(
                "InsufficientCapabilitiesException",
                "Requires capabilities",
            ))
        });
        let clients = Scenario::new()
            .with(&execute)
            .change_set(ExecutionStatus::Available)
            .statuses(&["UPDATE_COMPLETE"])
            .events(vec![])
            .clients();
        let (_trigger, interrupt) = Interrupt::new();
        let err = apply::execute(
            &clients,
            &change_set(Kind::Update),
            &mut Recorder::default(),
            &interrupt,
        )
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("ExecuteChangeSet failed"), "{text}");
        assert!(text.contains("InsufficientCapabilitiesException"), "{text}");
    }

    #[tokio::test]
    async fn a_change_set_already_deleted_is_gone_as_wanted() {
        let delete = mock!(Client::delete_change_set).then_error(|| {
            DeleteChangeSetError::generic(meta(
                "ChangeSetNotFound",
                "ChangeSet [rmdeploy-1] does not exist",
            ))
        });
        let clients = Scenario::new().with(&delete).clients();
        changeset::discard(&clients, &change_set(Kind::Update))
            .await
            .unwrap();
        assert_eq!(delete.num_calls(), 1);
    }
}
