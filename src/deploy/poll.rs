//! How long to wait between polls of CloudFormation: a first re-poll soon after the call (a
//! change set is often made, a small update often done, within a fraction of a second), then
//! twice as long each time up to the ceiling of `clients.poll` (`RMDEPLOY_POLL_MS`, default 2 s),
//! where long operations are followed.

use std::time::Duration;

/// The first wait, unless the ceiling is lower.
pub const FIRST: Duration = Duration::from_millis(100);

/// The waits of one polling loop.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    ceiling: Duration,
}

impl Backoff {
    pub fn new(ceiling: Duration) -> Backoff {
        Backoff {
            next: FIRST.min(ceiling),
            ceiling,
        }
    }

    /// The wait before the next poll; each one twice the last, up to the ceiling.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.ceiling);
        wait
    }

    /// Wait before the next poll.
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next_wait()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_100_ms_up_to_the_ceiling() {
        let mut b = Backoff::new(Duration::from_secs(2));
        let waits: Vec<u128> = (0..7).map(|_| b.next_wait().as_millis()).collect();
        assert_eq!(waits, vec![100, 200, 400, 800, 1600, 2000, 2000]);
    }

    #[test]
    fn a_ceiling_under_100_ms_is_every_wait() {
        let mut b = Backoff::new(Duration::from_millis(20));
        assert_eq!(b.next_wait(), Duration::from_millis(20));
        assert_eq!(b.next_wait(), Duration::from_millis(20));
        let mut zero = Backoff::new(Duration::ZERO);
        assert_eq!(zero.next_wait(), Duration::ZERO);
    }
}
