//! Password hashing (Argon2id) on a few dedicated threads.
//!
//! Each Argon2id hash needs ~19 MiB of working memory and a core's worth of CPU. Unbounded,
//! 32 identity-provider connections creating users with passwords took the server past 600 MiB
//! RSS and queued CPU work that outlived the requests. So hashes run on one thread per core,
//! each reusing its own working buffer while hashes keep coming and freeing it after a moment
//! without work. The buffer is freed on the thread that allocated it, which is what makes the
//! allocator hand the memory back to the OS (freed from other threads, or pooled for good, it
//! stayed in the server's RSS). A request waiting for its turn holds no memory, and one whose
//! client has gone away is skipped before it is hashed.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use argon2::password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Argon2, Block, Params, Version};
use tokio::sync::oneshot;

use super::error::ServiceResult;

/// How long a hashing thread keeps its working buffer without work.
const KEEP_BUFFER: Duration = Duration::from_millis(500);
/// Hashes that may wait for a thread; more wait in their requests (holding nothing).
const QUEUE: usize = 64;

struct Job {
    password: String,
    /// A stored hash to check the password against; None hashes it anew.
    against: Option<String>,
    reply: oneshot::Sender<anyhow::Result<String>>,
}

/// What `verify` hears back from a hashing thread for a match (anything else is a mismatch).
const MATCHED: &str = "matched";

fn queue() -> &'static SyncSender<Job> {
    static QUEUE_TX: OnceLock<SyncSender<Job>> = OnceLock::new();
    QUEUE_TX.get_or_init(|| {
        let (tx, rx) = mpsc::sync_channel::<Job>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        for i in 0..cores {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("scimd-argon2-{i}"))
                .spawn(move || hashing_thread(&rx))
                .expect("spawning a password hashing thread");
        }
        tx
    })
}

fn hashing_thread(rx: &Mutex<Receiver<Job>>) {
    let mut buffer: Option<Vec<Block>> = None;
    loop {
        let next = match rx.lock() {
            Ok(rx) => rx.recv_timeout(KEEP_BUFFER),
            Err(_) => return,
        };
        match next {
            Ok(job) => {
                if job.reply.is_closed() {
                    continue;
                }
                let blocks = buffer
                    .get_or_insert_with(|| vec![Block::default(); Params::default().block_count()]);
                let answer = match &job.against {
                    None => hash_with(job.password.as_bytes(), blocks),
                    Some(phc) => verify_with(job.password.as_bytes(), phc, blocks).map(|ok| {
                        if ok {
                            MATCHED.to_owned()
                        } else {
                            String::new()
                        }
                    }),
                };
                let _ = job.reply.send(answer);
            }
            // Idle: free the buffer here, on the thread that allocated it.
            Err(RecvTimeoutError::Timeout) => buffer = None,
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Argon2id on the hashing threads (hashing is deliberately slow and must not stall the
/// async workers serving other requests).
pub async fn hash(password: Option<String>) -> ServiceResult<Option<String>> {
    let Some(password) = password else {
        return Ok(None);
    };
    run(password, None).await.map(Some)
}

/// Whether `password` is the one `phc` (an Argon2id PHC string) was made from, checked on
/// the hashing threads in constant time.
pub async fn verify(password: &str, phc: &str) -> ServiceResult<bool> {
    Ok(run(password.to_owned(), Some(phc.to_owned())).await? == MATCHED)
}

async fn run(password: String, against: Option<String>) -> ServiceResult<String> {
    let (reply, answer) = oneshot::channel();
    let gone = || anyhow::anyhow!("the password hashing threads are gone");
    match queue().try_send(Job {
        password,
        against,
        reply,
    }) {
        Ok(()) => {}
        Err(TrySendError::Full(job)) => {
            // A full queue blocks its sender: wait for room off the async workers.
            let tx = queue().clone();
            tokio::task::spawn_blocking(move || tx.send(job))
                .await
                .map_err(|e| anyhow::anyhow!("queueing a password hash failed: {e}"))?
                .map_err(|_| gone())?;
        }
        Err(TrySendError::Disconnected(_)) => return Err(gone().into()),
    }
    let out = answer
        .await
        .map_err(|_| anyhow::anyhow!("a password hashing thread stopped"))??;
    Ok(out)
}

/// One request's password hash. A write that lost a race re-applies the request to a fresh
/// read, which yields the same password again: it must not pay Argon2 (tens of milliseconds
/// and 19 MiB on a hashing thread) once per attempt. A different password is hashed anew.
#[derive(Default)]
pub struct HashOnce {
    done: Option<(String, String)>,
}

impl HashOnce {
    /// The hash of `password`, computed on its first request only.
    pub async fn hash(&mut self, password: Option<String>) -> ServiceResult<Option<String>> {
        let Some(password) = password else {
            return Ok(None);
        };
        match &self.done {
            Some((plain, hash)) if *plain == password => Ok(Some(hash.clone())),
            _ => {
                let hash = hash(Some(password.clone())).await?.unwrap_or_default();
                self.done = Some((password, hash.clone()));
                Ok(Some(hash))
            }
        }
    }
}

/// Argon2id with the crate's default (OWASP) parameters, as a PHC string, in `blocks`.
fn hash_with(password: &[u8], blocks: &mut [Block]) -> anyhow::Result<String> {
    let params = Params::default();
    let argon = Argon2::default();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow::anyhow!("encoding a salt: {e}"))?;
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        argon
            .hash_password_into_with_memory(password, salt_bytes, out, &mut *blocks)
            .map_err(argon2::password_hash::Error::from)
    });
    let output = output.map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)
            .map_err(|e| anyhow::anyhow!("encoding Argon2 parameters: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Recomputes the PHC string's hash of `password` with its own salt and parameters, in
/// `blocks` when they are the default ones, and compares in constant time.
fn verify_with(password: &[u8], phc: &str, blocks: &mut [Block]) -> anyhow::Result<bool> {
    use subtle::ConstantTimeEq;
    let parsed = PasswordHash::new(phc).map_err(|e| anyhow::anyhow!("a stored hash: {e}"))?;
    if parsed.algorithm != argon2::ARGON2ID_IDENT {
        anyhow::bail!("a stored hash is not Argon2id");
    }
    let params = Params::try_from(&parsed).map_err(|e| anyhow::anyhow!("its parameters: {e}"))?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        anyhow::bail!("a stored hash lacks its salt or output");
    };
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow::anyhow!("decoding a salt: {e}"))?;
    let argon = Argon2::new(argon2::Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = vec![0u8; expected.len()];
    let mut own;
    let blocks = if blocks.len() == params.block_count() {
        blocks
    } else {
        own = vec![Block::default(); params.block_count()];
        &mut own[..]
    };
    argon
        .hash_password_into_with_memory(password, salt_bytes, &mut out, blocks)
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?;
    Ok(bool::from(out.as_slice().ct_eq(expected.as_bytes())))
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};

    #[tokio::test]
    async fn hashes_verify_with_argon2_and_reject_other_passwords() {
        let phc = super::hash(Some("correct horse".into()))
            .await
            .unwrap()
            .unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let parsed = PasswordHash::new(&phc).unwrap();
        let argon = argon2::Argon2::default();
        assert!(argon.verify_password(b"correct horse", &parsed).is_ok());
        assert!(argon.verify_password(b"correct horse!", &parsed).is_err());
        // A reused working buffer must not leak one hash into the next.
        let again = super::hash(Some("correct horse".into()))
            .await
            .unwrap()
            .unwrap();
        assert_ne!(phc, again, "fresh salt each time");
        let parsed = PasswordHash::new(&again).unwrap();
        assert!(argon.verify_password(b"correct horse", &parsed).is_ok());
    }

    #[tokio::test]
    async fn a_request_hashes_its_password_once_whatever_its_attempts() {
        let mut once = super::HashOnce::default();
        let first = once.hash(Some("s3cret".into())).await.unwrap().unwrap();
        // A fresh salt each hash: a second Argon2 run would give another string.
        assert_eq!(
            once.hash(Some("s3cret".into())).await.unwrap(),
            Some(first.clone())
        );
        let other = once.hash(Some("other".into())).await.unwrap().unwrap();
        assert_ne!(other, first);
        let parsed = PasswordHash::new(&other).unwrap();
        assert!(argon2::Argon2::default()
            .verify_password(b"other", &parsed)
            .is_ok());
        assert_eq!(once.hash(None).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_stored_hash_verifies_its_own_password_only() {
        let phc = super::hash(Some("a long chosen password".into()))
            .await
            .unwrap()
            .unwrap();
        assert!(super::verify("a long chosen password", &phc).await.unwrap());
        assert!(!super::verify("a long chosen passworD", &phc).await.unwrap());
        assert!(!super::verify("", &phc).await.unwrap());
        assert!(super::verify("x", "not a phc string").await.is_err());
    }

    #[tokio::test]
    async fn no_password_means_no_hash() {
        assert_eq!(super::hash(None).await.unwrap(), None);
    }
}
