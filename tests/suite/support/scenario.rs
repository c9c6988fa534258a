//! Recorded CloudFormation answers (aws-smithy-mocks) put together as a scenario, for the deploy
//! engine where the emulator falls short (`recorded`): the stack's status call after call, the
//! events it lists, the calls that succeed. The clients answer from the scenario's rules, the
//! first that matches; a call no rule matches fails.

use std::time::Duration;

use aws_sdk_cloudformation::operation::cancel_update_stack::CancelUpdateStackOutput;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
use aws_sdk_cloudformation::types::{
    Change, ChangeAction, ChangeSetStatus, ExecutionStatus, ResourceChange, ResourceStatus, Stack,
    StackEvent, StackStatus,
};
use aws_sdk_cloudformation::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::DateTime;
use rmdeploy::aws::Clients;

pub const STACK: &str = "rainmaker";
pub const STACK_ID: &str =
    "arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/rainmaker/0f1e2d3c";
pub const NESTED_ID: &str =
    "arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/rainmaker-Identity-1/9a8b7c";
pub const STACK_TYPE: &str = "AWS::CloudFormation::Stack";

/// The stack in `status`, termination protection off.
pub fn stack(status: &str) -> Stack {
    Stack::builder()
        .stack_name(STACK)
        .stack_id(STACK_ID)
        .creation_time(DateTime::from_secs(1_700_000_000))
        .stack_status(StackStatus::from(status))
        .enable_termination_protection(false)
        .build()
}

/// DescribeStacks' answer: the stack in `status`.
pub fn stacks(status: &str) -> DescribeStacksOutput {
    DescribeStacksOutput::builder()
        .stacks(stack(status))
        .build()
}

/// An event of the stack (`STACK_ID`) or of its nested stack (`NESTED_ID`); `n` orders them in
/// time.
pub fn event(
    n: i64,
    stack_id: &str,
    logical: &str,
    kind: &str,
    status: &str,
    reason: Option<&str>,
) -> StackEvent {
    let stack_name = if stack_id == STACK_ID {
        STACK
    } else {
        "rainmaker-Identity-1"
    };
    let physical = if logical == "Identity" { NESTED_ID } else { "" };
    let mut e = StackEvent::builder()
        .stack_id(stack_id)
        .event_id(format!("{stack_name}-{n}"))
        .stack_name(stack_name)
        .logical_resource_id(logical)
        .physical_resource_id(physical)
        .resource_type(kind)
        .timestamp(DateTime::from_secs(1_700_000_000 + n))
        .resource_status(ResourceStatus::from(status));
    if let Some(r) = reason {
        e = e.resource_status_reason(r);
    }
    e.build()
}

/// DescribeStackEvents' answer: `events` (oldest first) newest first, as CloudFormation lists
/// them.
pub fn page(mut events: Vec<StackEvent>) -> DescribeStackEventsOutput {
    events.reverse();
    DescribeStackEventsOutput::builder()
        .set_stack_events(Some(events))
        .build()
}

/// DescribeChangeSet's answer: a created change set that adds one queue, in `execution` status.
pub fn described(execution: ExecutionStatus) -> DescribeChangeSetOutput {
    DescribeChangeSetOutput::builder()
        .status(ChangeSetStatus::CreateComplete)
        .execution_status(execution)
        .changes(
            Change::builder()
                .resource_change(
                    ResourceChange::builder()
                        .action(ChangeAction::Add)
                        .logical_resource_id("WebhookQueue")
                        .resource_type("AWS::SQS::Queue")
                        .build(),
                )
                .build(),
        )
        .build()
}

/// The recorded answers of one test, in the order they are matched.
#[derive(Default)]
pub struct Scenario {
    /// CloudFormation's rules, each with the operation it answers (for [`Scenario::calls`]).
    cloudformation: Vec<(&'static str, Rule)>,
    iot: super::answers::Answers,
}

impl Scenario {
    pub fn new() -> Scenario {
        Scenario::default()
    }

    fn answer(mut self, operation: &'static str, rule: Rule) -> Scenario {
        self.cloudformation.push((operation, rule));
        self
    }

    /// DescribeStacks shows the stack in these statuses, one a call, the last one from then on.
    pub fn statuses(self, statuses: &[&'static str]) -> Scenario {
        let mut answers = mock!(Client::describe_stacks).sequence();
        for status in statuses.iter().copied() {
            answers = answers.output(move || stacks(status));
        }
        self.answer("DescribeStacks", answers.repeatedly().build())
    }

    /// DescribeStackEvents lists `events` (oldest first) on every call, for any stack.
    pub fn events(self, events: Vec<StackEvent>) -> Scenario {
        self.answer(
            "DescribeStackEvents",
            mock!(Client::describe_stack_events).then_output(move || page(events.clone())),
        )
    }

    /// DescribeStackEvents of `stack_id` lists these pages, one a call, the last one from then
    /// on.
    pub fn event_pages(self, stack_id: &'static str, pages: Vec<Vec<StackEvent>>) -> Scenario {
        let mut answers = mock!(Client::describe_stack_events)
            .match_requests(move |r| r.stack_name() == Some(stack_id))
            .sequence();
        for events in pages {
            answers = answers.output(move || page(events.clone()));
        }
        self.answer("DescribeStackEvents", answers.repeatedly().build())
    }

    /// ExecuteChangeSet succeeds.
    pub fn executes(self) -> Scenario {
        self.answer(
            "ExecuteChangeSet",
            mock!(Client::execute_change_set)
                .then_output(|| ExecuteChangeSetOutput::builder().build()),
        )
    }

    /// CancelUpdateStack succeeds: for the stack named `stack` only, or (`None`) for any.
    pub fn cancels(self, stack: Option<&'static str>) -> Scenario {
        self.answer(
            "CancelUpdateStack",
            mock!(Client::cancel_update_stack)
                .match_requests(move |r| stack.is_none_or(|name| r.stack_name() == Some(name)))
                .then_output(|| CancelUpdateStackOutput::builder().build()),
        )
    }

    /// DescribeChangeSet shows the change set of [`described`] in `execution` status.
    pub fn change_set(self, execution: ExecutionStatus) -> Scenario {
        self.answer(
            "DescribeChangeSet",
            mock!(Client::describe_change_set).then_output(move || described(execution.clone())),
        )
    }

    /// Any other CloudFormation answer (the test keeps the rule to count its calls).
    pub fn with(self, rule: &Rule) -> Scenario {
        self.answer("", rule.clone())
    }

    /// IoT's answers.
    pub fn iot(mut self, answers: super::answers::Answers) -> Scenario {
        self.iot = answers;
        self
    }

    /// How many calls the scenario's own rules for `operation` (`ExecuteChangeSet`) answered.
    pub fn calls(&self, operation: &str) -> usize {
        let rules: Vec<&Rule> = self
            .cloudformation
            .iter()
            .filter(|(op, _)| *op == operation)
            .map(|(_, r)| r)
            .collect();
        assert!(!rules.is_empty(), "the scenario answers no {operation}");
        rules.iter().map(|r| r.num_calls()).sum()
    }

    /// rmdeploy's clients, answering from the scenario in cn-north-1, without a wait between
    /// polls; services other than CloudFormation and IoT answer nothing.
    pub fn clients(&self) -> Clients {
        let cloudformation: Vec<&Rule> = self.cloudformation.iter().map(|(_, r)| r).collect();
        Clients {
            config: aws_config::SdkConfig::builder().build(),
            region: "cn-north-1".into(),
            cfn: mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, &cloudformation),
            s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[]),
            iot: self.iot.iot("cn-north-1"),
            quotas: mock_client!(aws_sdk_servicequotas, RuleMode::MatchAny, &[]),
            lambda: super::answers::Answers::new().lambda("cn-north-1"),
            dynamodb: mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[]),
            poll: Duration::ZERO,
        }
    }
}
