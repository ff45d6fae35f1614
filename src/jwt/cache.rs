//! The verified-token cache: a token whose signature and claims verified is remembered, keyed by
//! its full text (never a prefix), so the same token again skips the signature and the claims
//! parser. `exp` and `nbf` are checked against the clock on every hit; only successes are
//! cached. The cache belongs to one snapshot: every reload or key change publishes a new
//! snapshot with an empty cache, so a removed key stops verifying at once.
//!
//! quick_cache's concurrent cache (sharded, its own locks; none of ours on the Check path).
//! Measured against per-worker thread-local shards in `benches/jwt.rs` (`cache/`).

use std::sync::Arc;

use prometheus::IntCounter;
use quick_cache::sync::Cache;

use super::verify::check_times;
use super::{Claims, Times, TokenError, Verified};
use crate::keys::KeyRing;

/// What a hit rebuilds the verification from.
struct Entry {
    key: usize,
    claims: Arc<Claims>,
    times: Times,
    payload: (u32, u32),
}

/// The cache of one snapshot (`jwt.cache.max_entries`; 0: none).
pub struct TokenCache {
    entries: Option<Cache<Box<str>, Arc<Entry>>>,
    hits: Option<IntCounter>,
    misses: Option<IntCounter>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.entries {
            Some(c) => write!(f, "TokenCache({} of {})", c.len(), c.capacity()),
            None => f.write_str("TokenCache(off)"),
        }
    }
}

impl TokenCache {
    /// A cache of `max_entries` tokens, counting hits and misses in `counters`.
    pub fn new(max_entries: usize, counters: Option<(IntCounter, IntCounter)>) -> Self {
        let (hits, misses) = counters.unzip();
        Self {
            entries: (max_entries > 0).then(|| Cache::new(max_entries)),
            hits,
            misses,
        }
    }

    /// No cache (tools, tests).
    pub fn off() -> Self {
        Self::new(0, None)
    }

    /// The verification of `token` if it is cached: `Some(Err)` when it was but its `exp` or
    /// `nbf` no longer hold; `None` on a miss (or with the cache off).
    pub fn get<'r, 't>(
        &self,
        token: &'t str,
        ring: &'r KeyRing,
        leeway: u64,
        now: u64,
    ) -> Option<Result<Verified<'r, 't>, TokenError>> {
        let cache = self.entries.as_ref()?;
        let Some(entry) = cache.get(token) else {
            if let Some(m) = &self.misses {
                m.inc();
            }
            return None;
        };
        if let Some(h) = &self.hits {
            h.inc();
        }
        let key = ring.keys().get(entry.key)?;
        if let Err(e) = check_times(entry.times, leeway as f64, now as f64) {
            return Some(Err(e));
        }
        let (start, end) = entry.payload;
        Some(Ok(Verified {
            key,
            claims: entry.claims.clone(),
            payload_b64: &token[start as usize..end as usize],
            times: entry.times,
        }))
    }

    /// Remembers a verification of `token`.
    pub fn insert(&self, token: &str, verified: &Verified<'_, '_>) {
        let Some(cache) = &self.entries else { return };
        let start = verified.payload_b64.as_ptr() as usize - token.as_ptr() as usize;
        let entry = Entry {
            key: verified.key.index,
            claims: verified.claims.clone(),
            times: verified.times,
            payload: (start as u32, (start + verified.payload_b64.len()) as u32),
        };
        cache.insert(Box::from(token), Arc::new(entry));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::jwt::verify;
    use crate::testing::{bench_keyring, sign_compact};

    fn config() -> Config {
        Config::from_yaml(
            "keys: [{ dir: /k, algorithm: HS256 }]\njwt: { leeway: 0s }\n",
            std::path::Path::new("c.yaml"),
        )
        .unwrap()
    }

    fn token(exp: u64) -> String {
        sign_compact(
            crate::keys::Algorithm::HS256,
            &[1; 32],
            r#"{"alg":"HS256","kid":"k0"}"#,
            &format!(r#"{{"sub":"a","exp":{exp}}}"#),
        )
    }

    #[test]
    fn a_verified_token_is_answered_from_the_cache_until_it_expires() {
        let (cfg, ring) = (config(), bench_keyring(1));
        let hits = IntCounter::new("h", "h").unwrap();
        let misses = IntCounter::new("m", "m").unwrap();
        let cache = TokenCache::new(16, Some((hits.clone(), misses.clone())));
        let t = token(1_000);
        assert!(cache.get(&t, &ring, 0, 900).is_none());
        let v = verify(&t, &ring, &cfg.jwt, &cfg.limits, 900).unwrap();
        cache.insert(&t, &v);
        let hit = cache.get(&t, &ring, 0, 901).unwrap().unwrap();
        assert_eq!(
            (&*hit.key.kid, hit.payload_b64),
            (&*v.key.kid, v.payload_b64)
        );
        assert!(
            Arc::ptr_eq(&hit.claims, &v.claims),
            "claims shared, not parsed again"
        );
        assert_eq!((hits.get(), misses.get()), (1, 1));
        // exp is checked on every hit: at exp the cached token is expired.
        let expired = cache.get(&t, &ring, 0, 1_000).unwrap().unwrap_err();
        assert_eq!(expired.reason, crate::reason::DenyReason::Expired);
        // A different token (even a prefix or an extension) is a miss.
        assert!(cache.get(&t[..t.len() - 1], &ring, 0, 901).is_none());
        assert!(cache.get(&format!("{t}A"), &ring, 0, 901).is_none());
        // Off: nothing is kept.
        let off = TokenCache::off();
        off.insert(&t, &v);
        assert!(off.get(&t, &ring, 0, 901).is_none());
    }
}
