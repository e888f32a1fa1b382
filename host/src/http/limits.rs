//! Per-caller bounds of the HTTP front end: the session table and the
//! tool-call rate.
//!
//! A session costs memory while rmcp keeps it (its worker, channels and
//! the handler), and `initialize` is cheap to send, so the table is
//! bounded: at most `max_sessions` in the process, at most `per_caller`
//! for one caller. A session idle longer than `idle` is closed, and when
//! the table is full the least recently used idle session makes room.
//! Neither loses anything: a closed session comes back from its sealed id
//! on its next request (see `sessions.rs`). A caller at its own cap gets
//! 429 with the time until its oldest session would be closed for
//! idleness.
//!
//! Who a caller is: [`Caller::owner_key`]. Pure logic with the clock
//! passed in; the front end closes what it is told to close.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bounds of the session table.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    pub max_sessions: usize,
    pub per_caller: usize,
    /// A session without a request for this long is closed.
    pub idle: Duration,
}

struct Entry {
    owner: String,
    last_used: Instant,
    /// Requests of the session being answered (open streams included).
    busy: usize,
}

#[derive(Default)]
struct Table {
    sessions: HashMap<String, Entry>,
    /// Sessions per owner, reservations included.
    owned: HashMap<String, usize>,
    /// Admitted `initialize` requests whose session is not created yet.
    reserved: usize,
}

impl Table {
    fn count(&self, owner: &str) -> usize {
        self.owned.get(owner).copied().unwrap_or(0)
    }

    fn add_owned(&mut self, owner: &str) {
        *self.owned.entry(owner.to_string()).or_default() += 1;
    }

    fn drop_owned(&mut self, owner: &str) {
        if let Some(n) = self.owned.get_mut(owner) {
            *n -= 1;
            if *n == 0 {
                self.owned.remove(owner);
            }
        }
    }

    fn remove(&mut self, id: &str) -> bool {
        match self.sessions.remove(id) {
            Some(entry) => {
                self.drop_owned(&entry.owner);
                true
            }
            None => false,
        }
    }

    /// The least recently used idle session, of `owner` if given.
    fn least_recent_idle(&self, owner: Option<&str>) -> Option<String> {
        self.sessions
            .iter()
            .filter(|(_, e)| e.busy == 0 && owner.is_none_or(|o| e.owner == o))
            .min_by_key(|(_, e)| e.last_used)
            .map(|(id, _)| id.clone())
    }

    /// When `owner`'s oldest idle session will be closed for idleness.
    fn retry_after(&self, owner: &str, limits: &SessionLimits, now: Instant) -> Duration {
        self.sessions
            .values()
            .filter(|e| e.owner == owner && e.busy == 0)
            .map(|e| (e.last_used + limits.idle).saturating_duration_since(now))
            .min()
            .unwrap_or(limits.idle)
            .max(Duration::from_secs(1))
    }
}

/// Why a session was not admitted.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The caller holds its share; retry after this long.
    CallerFull(Duration),
    /// Every session in the process is busy.
    Full,
}

/// The verdict on a session about to be created or restored: sessions to
/// close first to make room, or the refusal.
pub type Admission = Result<Vec<String>, Refused>;

pub struct SessionTable {
    limits: SessionLimits,
    table: Mutex<Table>,
}

impl SessionTable {
    pub fn new(limits: SessionLimits) -> Self {
        SessionTable {
            limits: SessionLimits {
                max_sessions: limits.max_sessions.max(1),
                per_caller: limits.per_caller.max(1),
                idle: limits.idle,
            },
            table: Mutex::new(Table::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sessions held now (created, not yet closed).
    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[cfg(test)]
    pub fn knows(&self, id: &str) -> bool {
        self.lock().sessions.contains_key(id)
    }

    /// Room made in the whole table for one more session: idle sessions to
    /// close, or `Full` when every one is busy.
    fn make_room(&self, table: &mut Table) -> Result<Vec<String>, Refused> {
        let mut evict = Vec::new();
        while table.sessions.len() + table.reserved >= self.limits.max_sessions {
            let id = table.least_recent_idle(None).ok_or(Refused::Full)?;
            table.remove(&id);
            evict.push(id);
        }
        Ok(evict)
    }

    /// Before an `initialize`: reserves a place for `owner`'s new session,
    /// to be [`Self::created`] or [`Self::cancel`]led.
    pub fn admit_new(&self, owner: &str, now: Instant) -> Admission {
        let mut table = self.lock();
        if table.count(owner) >= self.limits.per_caller {
            return Err(Refused::CallerFull(table.retry_after(owner, &self.limits, now)));
        }
        let evict = self.make_room(&mut table)?;
        table.reserved += 1;
        table.add_owned(owner);
        Ok(evict)
    }

    /// The reserved session exists now under `id`.
    pub fn created(&self, id: &str, owner: &str, now: Instant) {
        let mut table = self.lock();
        table.reserved = table.reserved.saturating_sub(1);
        let entry = Entry {
            owner: owner.to_string(),
            last_used: now,
            busy: 0,
        };
        if let Some(old) = table.sessions.insert(id.to_string(), entry) {
            table.drop_owned(&old.owner);
        }
    }

    /// The reserved session was not created.
    pub fn cancel(&self, owner: &str) {
        let mut table = self.lock();
        table.reserved = table.reserved.saturating_sub(1);
        table.drop_owned(owner);
    }

    /// A request names session `id`, which this process does not hold
    /// (closed here, or created by another replica): it is restored. The
    /// owner's own least recently used idle session makes room if the
    /// owner is at its cap; a restore is never refused for the cap alone.
    pub fn admit_restored(&self, id: &str, owner: &str, now: Instant) -> Admission {
        let mut table = self.lock();
        if table.sessions.contains_key(id) {
            return Ok(Vec::new());
        }
        let mut evict = Vec::new();
        if table.count(owner) >= self.limits.per_caller {
            let own = table
                .least_recent_idle(Some(owner))
                .ok_or_else(|| Refused::CallerFull(table.retry_after(owner, &self.limits, now)))?;
            table.remove(&own);
            evict.push(own);
        }
        evict.extend(self.make_room(&mut table)?);
        table.add_owned(owner);
        table.sessions.insert(
            id.to_string(),
            Entry {
                owner: owner.to_string(),
                last_used: now,
                busy: 0,
            },
        );
        Ok(evict)
    }

    /// A request of session `id` starts being answered.
    pub fn begin(&self, id: &str, now: Instant) {
        if let Some(entry) = self.lock().sessions.get_mut(id) {
            entry.busy += 1;
            entry.last_used = now;
        }
    }

    /// A request of session `id` is answered (its stream ended).
    pub fn end(&self, id: &str, now: Instant) {
        if let Some(entry) = self.lock().sessions.get_mut(id) {
            entry.busy = entry.busy.saturating_sub(1);
            entry.last_used = now;
        }
    }

    /// Session `id` was ended (DELETE, or closed by rmcp).
    pub fn remove(&self, id: &str) -> bool {
        self.lock().remove(id)
    }

    /// Takes out the sessions idle past the limit, to be closed.
    pub fn expired(&self, now: Instant) -> Vec<String> {
        let mut table = self.lock();
        let idle = self.limits.idle;
        let expired: Vec<String> = table
            .sessions
            .iter()
            .filter(|(_, e)| e.busy == 0 && now.saturating_duration_since(e.last_used) >= idle)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            table.remove(id);
        }
        expired
    }
}

/// At most `per_minute` tool calls per caller, refilled continuously (a
/// token bucket of one minute's worth).
pub struct CallRate {
    per_minute: u32,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Buckets kept before full (idle) ones are dropped.
const BUCKETS_KEPT: usize = 10_000;

impl CallRate {
    /// `per_minute` 0: no limit.
    pub fn new(per_minute: u32) -> Self {
        CallRate {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one call from `owner`'s bucket, or says when the next one is
    /// there.
    pub fn take(&self, owner: &str, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= BUCKETS_KEPT {
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * per_second < capacity
            });
        }
        let (tokens, at) = buckets.entry(owner.to_string()).or_insert((capacity, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * per_second).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / per_second).max(Duration::from_secs(1)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(max: usize, per_caller: usize) -> SessionTable {
        SessionTable::new(SessionLimits {
            max_sessions: max,
            per_caller,
            idle: Duration::from_secs(60),
        })
    }

    fn open(t: &SessionTable, id: &str, owner: &str, now: Instant) {
        assert_eq!(t.admit_new(owner, now), Ok(vec![]), "{id}");
        t.created(id, owner, now);
    }

    #[test]
    fn a_caller_at_its_cap_is_refused_with_the_time_until_room() {
        let t = table(100, 2);
        let start = Instant::now();
        open(&t, "a1", "alice", start);
        open(&t, "a2", "alice", start + Duration::from_secs(10));
        let refused = t.admit_new("alice", start + Duration::from_secs(20));
        assert_eq!(refused, Err(Refused::CallerFull(Duration::from_secs(40))));
        // Others are not affected; a DELETE gives the place back.
        open(&t, "b1", "bob", start);
        assert!(t.remove("a1"));
        assert_eq!(t.admit_new("alice", start), Ok(vec![]));
        t.cancel("alice");
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn a_full_table_closes_the_least_recently_used_idle_session() {
        let t = table(3, 10);
        let start = Instant::now();
        open(&t, "s1", "a", start);
        open(&t, "s2", "b", start + Duration::from_secs(1));
        open(&t, "s3", "c", start + Duration::from_secs(2));
        t.begin("s1", start + Duration::from_secs(3));
        t.end("s1", start + Duration::from_secs(3));
        // s2 is now the least recently used.
        assert_eq!(
            t.admit_new("d", start + Duration::from_secs(4)),
            Ok(vec!["s2".to_string()])
        );
        t.created("s4", "d", start);
        assert_eq!(t.len(), 3);
        assert!(!t.knows("s2"));
    }

    #[test]
    fn busy_sessions_are_never_evicted_and_a_busy_table_refuses() {
        let t = table(2, 10);
        let now = Instant::now();
        open(&t, "s1", "a", now);
        open(&t, "s2", "b", now);
        t.begin("s1", now);
        t.begin("s2", now);
        assert_eq!(t.admit_new("c", now), Err(Refused::Full));
        assert_eq!(t.admit_restored("s9", "c", now), Err(Refused::Full));
        t.end("s2", now);
        assert_eq!(t.admit_new("c", now), Ok(vec!["s2".to_string()]));
        // Idle expiry skips the busy one.
        t.cancel("c");
        assert!(t.expired(now + Duration::from_secs(3600)).is_empty());
        t.end("s1", now);
        assert_eq!(t.expired(now + Duration::from_secs(3600)), vec!["s1".to_string()]);
        assert!(t.is_empty());
    }

    #[test]
    fn a_restore_makes_room_among_the_owners_own_sessions() {
        let t = table(100, 2);
        let now = Instant::now();
        open(&t, "a1", "alice", now);
        open(&t, "a2", "alice", now + Duration::from_secs(1));
        open(&t, "b1", "bob", now);
        assert_eq!(
            t.admit_restored("a0", "alice", now + Duration::from_secs(2)),
            Ok(vec!["a1".to_string()])
        );
        assert!(t.knows("a0") && t.knows("a2") && t.knows("b1"));
        // Restoring a session the table holds is a no-op.
        assert_eq!(t.admit_restored("a0", "alice", now), Ok(vec![]));
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn reservations_count_so_concurrent_initializes_cannot_overshoot() {
        let t = table(2, 10);
        let now = Instant::now();
        assert_eq!(t.admit_new("a", now), Ok(vec![]));
        assert_eq!(t.admit_new("a", now), Ok(vec![]));
        assert_eq!(t.admit_new("a", now), Err(Refused::Full));
    }

    #[test]
    fn owners_are_subjects_when_verified_and_addresses_otherwise() {
        let mut caller = crate::caller::Caller::local();
        let address = Some("10.1.2.3".parse().unwrap());
        assert_eq!(caller.owner_key(address), "addr\n10.1.2.3");
        caller.verified = true;
        caller.subject = "alice".into();
        caller.issuer = "https://idp".into();
        assert_eq!(caller.owner_key(address), "sub\nhttps://idp\nalice");
    }

    #[test]
    fn the_call_rate_refills_over_the_minute() {
        let rate = CallRate::new(2);
        let now = Instant::now();
        assert_eq!(rate.take("a", now), Ok(()));
        assert_eq!(rate.take("a", now), Ok(()));
        let wait = rate.take("a", now).unwrap_err();
        assert!(
            wait >= Duration::from_secs(29) && wait <= Duration::from_secs(31),
            "{wait:?}"
        );
        assert_eq!(rate.take("b", now), Ok(()), "buckets are per caller");
        assert_eq!(rate.take("a", now + Duration::from_secs(30)), Ok(()));
        assert!(CallRate::new(0).take("a", now).is_ok());
    }
}
