//! The server-wide scheduler: a pool of run slots and a FIFO queue in front
//! of it.
//!
//! [`Scheduler::enqueue`] answers at once: a [`Ticket`], or [`Busy`] when the
//! queue is full (the caller answers `-32005`). A ticket waits for its slot
//! and reports every change of its queue position; dropping a ticket (a
//! cancelled or disconnected job) takes it out of the queue. A [`Slot`] frees
//! itself when dropped, and the next ticket in line gets it.
//!
//! Invariant: `running + queue.len()` never exceeds `slots + max_queue`, and
//! a slot is handed to the oldest waiting ticket first.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use tokio::sync::{oneshot, watch};

/// The queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    pub retry_after_ms: u64,
}

struct Waiter {
    ticket: u64,
    grant: oneshot::Sender<Slot>,
    position: watch::Sender<u32>,
}

struct State {
    slots: usize,
    running: usize,
    max_queue: usize,
    queue: VecDeque<Waiter>,
    next_ticket: u64,
}

/// Shared handle on the scheduler.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Mutex<State>>,
    retry_after_ms: u64,
}

/// A place in the queue. Await [`Ticket::wait`] for the slot.
pub struct Ticket {
    id: u64,
    scheduler: Scheduler,
    grant: oneshot::Receiver<Slot>,
    position: watch::Receiver<u32>,
    /// False once the position sender is gone (the ticket left the queue).
    watching: bool,
    granted: bool,
}

/// A run slot; dropping it frees the slot for the next job.
pub struct Slot {
    /// `None` once the slot has been handed back without a release.
    scheduler: Option<Scheduler>,
}

/// What [`Ticket::wait`] saw.
pub enum TicketEvent {
    /// The slot is ours.
    Granted(Slot),
    /// Now at this 1-based place in the queue.
    Position(u32),
}

impl Scheduler {
    pub fn new(slots: usize, max_queue: usize, retry_after_ms: u64) -> Scheduler {
        Scheduler {
            inner: Arc::new(Mutex::new(State {
                slots: slots.max(1),
                running: 0,
                max_queue,
                queue: VecDeque::new(),
                next_ticket: 0,
            })),
            retry_after_ms,
        }
    }

    /// Takes a place in line, or refuses when the queue is full.
    pub fn enqueue(&self) -> Result<Ticket, Busy> {
        let mut s = self.inner.lock().unwrap();
        let (grant_tx, grant_rx) = oneshot::channel();
        s.next_ticket += 1;
        let id = s.next_ticket;
        if s.running < s.slots && s.queue.is_empty() {
            s.running += 1;
            let _ = grant_tx.send(Slot { scheduler: Some(self.clone()) });
            let (_, position) = watch::channel(0);
            return Ok(Ticket {
                id,
                scheduler: self.clone(),
                grant: grant_rx,
                position,
                watching: true,
                granted: false,
            });
        }
        if s.queue.len() >= s.max_queue {
            let ahead = (s.queue.len() / s.slots + 1) as u64;
            return Err(Busy { retry_after_ms: self.retry_after_ms * ahead });
        }
        let (pos_tx, pos_rx) = watch::channel(s.queue.len() as u32 + 1);
        s.queue.push_back(Waiter { ticket: id, grant: grant_tx, position: pos_tx });
        Ok(Ticket { id, scheduler: self.clone(), grant: grant_rx, position: pos_rx, watching: true, granted: false })
    }

    /// Jobs running and jobs waiting, for logs and metrics.
    pub fn load(&self) -> (usize, usize) {
        let s = self.inner.lock().unwrap();
        (s.running, s.queue.len())
    }

    fn release(&self) {
        let mut s = self.inner.lock().unwrap();
        s.running -= 1;
        Self::grant_next(&mut s, self);
    }

    fn grant_next(s: &mut State, me: &Scheduler) {
        while s.running < s.slots {
            let Some(w) = s.queue.pop_front() else { break };
            s.running += 1;
            if let Err(mut slot) = w.grant.send(Slot { scheduler: Some(me.clone()) }) {
                // The ticket is gone; take the slot back without recursing
                // into release (we hold the lock).
                slot.scheduler = None;
                s.running -= 1;
            }
        }
        for (i, w) in s.queue.iter().enumerate() {
            w.position.send_if_modified(|p| {
                let new = i as u32 + 1;
                std::mem::replace(p, new) != new
            });
        }
    }

    fn forget(&self, ticket: u64) {
        let mut s = self.inner.lock().unwrap();
        if let Some(i) = s.queue.iter().position(|w| w.ticket == ticket) {
            s.queue.remove(i);
            Self::grant_next(&mut s, self);
        }
    }
}

impl Ticket {
    /// The position when the ticket was issued: 0 when a slot was free.
    pub fn initial_position(&self) -> u32 {
        *self.position.borrow()
    }

    /// Waits for the slot or a change of position.
    pub async fn wait(&mut self) -> TicketEvent {
        loop {
            tokio::select! {
                biased;
                slot = &mut self.grant => {
                    self.granted = true;
                    // The scheduler drops a queued sender without sending
                    // only in `forget`, which only this ticket's drop calls.
                    return TicketEvent::Granted(slot.expect("the scheduler keeps queued senders"));
                }
                changed = self.position.changed(), if self.watching => match changed {
                    Ok(()) => return TicketEvent::Position(*self.position.borrow_and_update()),
                    // Out of the queue: the grant is on its way.
                    Err(_) => self.watching = false,
                },
            }
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.granted {
            // Either still queued, or granted but never collected: in the
            // second case the slot inside the channel is dropped with it,
            // which releases it.
            self.grant.close();
            if let Ok(slot) = self.grant.try_recv() {
                drop(slot);
            } else {
                self.scheduler.forget(self.id);
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(s) = self.scheduler.take() {
            s.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn granted(t: &mut Ticket) -> Slot {
        loop {
            if let TicketEvent::Granted(s) = t.wait().await {
                return s;
            }
        }
    }

    #[tokio::test]
    async fn free_slot_is_granted_at_once() {
        let s = Scheduler::new(1, 4, 100);
        let mut t = s.enqueue().unwrap();
        assert_eq!(t.initial_position(), 0);
        let _slot = granted(&mut t).await;
        assert_eq!(s.load(), (1, 0));
    }

    #[tokio::test]
    async fn queue_is_fifo_and_positions_move_up() {
        let s = Scheduler::new(1, 4, 100);
        let mut a = s.enqueue().unwrap();
        let slot_a = granted(&mut a).await;
        let mut b = s.enqueue().unwrap();
        let mut c = s.enqueue().unwrap();
        assert_eq!((b.initial_position(), c.initial_position()), (1, 2));
        drop(slot_a);
        let slot_b = granted(&mut b).await;
        assert!(matches!(c.wait().await, TicketEvent::Position(1)));
        drop(slot_b);
        let _slot_c = granted(&mut c).await;
        assert_eq!(s.load(), (1, 0));
    }

    #[tokio::test]
    async fn full_queue_is_busy_with_a_retry_hint() {
        let s = Scheduler::new(1, 1, 100);
        let _a = s.enqueue().unwrap();
        let _b = s.enqueue().unwrap();
        assert_eq!(s.enqueue().err(), Some(Busy { retry_after_ms: 200 }));
    }

    #[tokio::test]
    async fn dropped_ticket_leaves_the_queue() {
        let s = Scheduler::new(1, 4, 100);
        let mut a = s.enqueue().unwrap();
        let slot_a = granted(&mut a).await;
        let b = s.enqueue().unwrap();
        let mut c = s.enqueue().unwrap();
        drop(b);
        assert!(matches!(c.wait().await, TicketEvent::Position(1)));
        drop(slot_a);
        let _slot_c = granted(&mut c).await;
        assert_eq!(s.load(), (1, 0));
    }

    #[tokio::test]
    async fn granted_but_uncollected_slot_is_released_on_drop() {
        let s = Scheduler::new(1, 4, 100);
        let mut a = s.enqueue().unwrap();
        let slot_a = granted(&mut a).await;
        let b = s.enqueue().unwrap();
        drop(slot_a); // b is granted now, but never waits
        drop(b);
        assert_eq!(s.load(), (0, 0));
    }
}
