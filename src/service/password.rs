//! Password hashing (Argon2id) with bounded concurrency.
//!
//! Each Argon2id hash needs ~19 MiB of working memory and a core's worth of CPU. Unbounded,
//! 32 identity-provider connections creating users with passwords took the server past 600 MiB
//! RSS (and the allocator kept it: each blocking thread's freed 19 MiB stayed in its arena)
//! and queued CPU work that outlived the requests. So: at most one hash per core at a time, each
//! in a working buffer reused from a pool of at most that many; a request waiting for its turn
//! holds no memory and, if its client goes away, is dropped before it hashes anything. The
//! pool lives only while hashes keep coming: the last hash of a burst frees the buffers, so an
//! idle server does not carry 19 MiB per core for passwords it is not hashing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use argon2::password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

use super::error::ServiceResult;

fn permits() -> &'static Semaphore {
    static SEM: OnceLock<Semaphore> = OnceLock::new();
    SEM.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Semaphore::new(cores)
    })
}

/// Argon2id on the blocking pool (hashing is deliberately slow and must not stall the async
/// workers serving other requests), one per core at most.
pub async fn hash(password: Option<String>) -> ServiceResult<Option<String>> {
    let Some(password) = password else {
        return Ok(None);
    };
    let _burst = Burst::join();
    let permit = permits()
        .acquire()
        .await
        .map_err(|e| anyhow::anyhow!("password hashing limiter closed: {e}"))?;
    let hash = tokio::task::spawn_blocking(move || hash_blocking(password.as_bytes()))
        .await
        .map_err(|e| anyhow::anyhow!("password hashing task failed: {e}"))??;
    drop(permit);
    Ok(Some(hash))
}

/// Hashes queued or running. When the count falls to zero the pooled buffers are freed.
static IN_BURST: AtomicUsize = AtomicUsize::new(0);

struct Burst;

impl Burst {
    fn join() -> Self {
        IN_BURST.fetch_add(1, Ordering::AcqRel);
        Burst
    }
}

impl Drop for Burst {
    fn drop(&mut self) {
        if IN_BURST.fetch_sub(1, Ordering::AcqRel) == 1 {
            let idle: Vec<Vec<Block>> = match buffers().lock() {
                Ok(mut b) => b.drain(..).collect(),
                Err(_) => return,
            };
            drop(idle);
        }
    }
}

/// Working buffers of finished hashes, for the next ones (at most one per permit).
fn buffers() -> &'static Mutex<Vec<Vec<Block>>> {
    static BUFFERS: OnceLock<Mutex<Vec<Vec<Block>>>> = OnceLock::new();
    BUFFERS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Argon2id with the crate's default (OWASP) parameters, as a PHC string.
fn hash_blocking(password: &[u8]) -> anyhow::Result<String> {
    let params = Params::default();
    let argon = Argon2::default();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow::anyhow!("encoding a salt: {e}"))?;
    let pooled = buffers().lock().ok().and_then(|mut b| b.pop());
    let mut blocks = pooled.unwrap_or_else(|| vec![Block::default(); params.block_count()]);
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        argon
            .hash_password_into_with_memory(password, salt_bytes, out, &mut blocks)
            .map_err(argon2::password_hash::Error::from)
    });
    if let Ok(mut b) = buffers().lock() {
        b.push(blocks);
    }
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
    async fn no_password_means_no_hash() {
        assert_eq!(super::hash(None).await.unwrap(), None);
    }
}
