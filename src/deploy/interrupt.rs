//! A request to stop, as the user makes it with Ctrl-C; the command layer feeds it, the deploy
//! engine reacts at safe points (cancel an update, discard a change set).

use tokio::sync::watch;

/// How many times the user asked to stop.
#[derive(Debug, Clone)]
pub struct Interrupt {
    rx: watch::Receiver<u32>,
}

/// The sending side, held by whatever listens for signals.
#[derive(Debug)]
pub struct Trigger {
    tx: watch::Sender<u32>,
}

impl Interrupt {
    pub fn new() -> (Trigger, Interrupt) {
        let (tx, rx) = watch::channel(0);
        (Trigger { tx }, Interrupt { rx })
    }

    /// One that never fires.
    pub fn never() -> Interrupt {
        let (trigger, interrupt) = Interrupt::new();
        std::mem::forget(trigger);
        interrupt
    }

    pub fn count(&self) -> u32 {
        *self.rx.borrow()
    }

    pub fn requested(&self) -> bool {
        self.count() > 0
    }

    /// Resolves at the next request after those already counted (never, once the trigger is
    /// gone).
    pub async fn next(&self) {
        let seen = self.count();
        let mut rx = self.rx.clone();
        if rx.wait_for(|n| *n > seen).await.is_err() {
            std::future::pending::<()>().await
        }
    }
}

impl Trigger {
    /// Record a request; the count so far.
    pub fn fire(&self) -> u32 {
        self.tx.send_modify(|n| *n += 1);
        *self.tx.borrow()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_are_counted_and_wake_waiters() {
        let (trigger, interrupt) = Interrupt::new();
        assert!(!interrupt.requested());
        let waiter = {
            let i = interrupt.clone();
            tokio::spawn(async move { i.next().await })
        };
        tokio::task::yield_now().await;
        assert_eq!(trigger.fire(), 1);
        waiter.await.unwrap();
        assert!(interrupt.requested());
        assert_eq!(trigger.fire(), 2);
        assert_eq!(interrupt.count(), 2);
    }
}
