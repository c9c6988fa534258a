//! What the commands that change an account do, end to end, with no terminal in sight: progress
//! goes to an [`Observer`], questions to a [`Prompter`], and each workflow returns a result the
//! command layer renders. Commands parse their arguments, call one workflow, render its result.

pub mod apply;
pub mod destroy;
pub mod nodes;
pub mod plan;
pub mod quotas;
pub mod session;
pub mod settle;
pub mod status;

pub use crate::deploy::watch::Observer;
pub use session::{Credentials, Session};

use crate::deploy::interrupt::Interrupt;

/// The answer to a yes/no question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    /// Nobody can answer (stdin is not a terminal).
    NoTerminal,
    /// The user stopped the run while the question was open.
    Interrupted,
}

/// Who answers the questions a workflow asks before it changes an account.
pub trait Prompter {
    /// Ask a yes/no question; a stop request while it is open answers `Interrupted`.
    fn confirm(
        &mut self,
        question: &str,
        interrupt: &Interrupt,
    ) -> impl std::future::Future<Output = Answer>;
}

/// A prompter with fixed answers, for callers that decided up front (`--yes`) and for tests.
#[derive(Debug, Clone)]
pub struct Answers {
    answers: std::collections::VecDeque<Answer>,
    /// The questions asked, in order.
    pub asked: Vec<String>,
}

impl Answers {
    pub fn new(answers: impl IntoIterator<Item = Answer>) -> Answers {
        Answers {
            answers: answers.into_iter().collect(),
            asked: Vec::new(),
        }
    }
}

impl Prompter for Answers {
    async fn confirm(&mut self, question: &str, _: &Interrupt) -> Answer {
        self.asked.push(question.to_string());
        self.answers.pop_front().unwrap_or(Answer::NoTerminal)
    }
}
