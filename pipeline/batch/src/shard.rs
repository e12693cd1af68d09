//! Splitting a run across machines: shard I of N takes the videos whose id hashes (64-bit
//! FNV-1a of the id's UTF-8 bytes, stable across machines and versions) to I modulo N. The shard
//! comes from `--shard I/N`, or from a Slurm job array or a Kubernetes Indexed Job.

use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub fn new(index: usize, count: usize) -> Result<Self, String> {
        if count == 0 {
            return Err("the shard count must be at least 1".into());
        }
        if index >= count {
            return Err(format!(
                "shard index {index} is out of range: shards are numbered 0 to {} of {count}",
                count - 1
            ));
        }
        Ok(Self { index, count })
    }

    /// Whether this shard takes the video `id`.
    pub fn takes(&self, id: &str) -> bool {
        (fnv1a(id.as_bytes()) % self.count as u64) as usize == self.index
    }

    /// The shard's own output folder name: `shard-<I>-of-<N>`.
    pub fn dir_name(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }

    /// Parses a `shard-<I>-of-<N>` folder name.
    pub fn from_dir_name(name: &str) -> Option<Self> {
        let (i, n) = name.strip_prefix("shard-")?.split_once("-of-")?;
        Self::new(i.parse().ok()?, n.parse().ok()?).ok()
    }

    /// The shard a scheduler assigned through the environment: Slurm job arrays
    /// (`SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN` of `SLURM_ARRAY_TASK_COUNT`), or Kubernetes
    /// Indexed Jobs (`JOB_COMPLETION_INDEX` of `MARLIN_SHARD_COUNT`, which the Job sets to its
    /// `completions`). `None` when neither is present.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let num = |name: &str| -> Result<Option<usize>, String> {
            var(name)
                .map(|v| v.trim().parse::<usize>().map_err(|_| format!("{name}={v:?} is not a number")))
                .transpose()
        };
        if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
            let count =
                num("SLURM_ARRAY_TASK_COUNT")?.ok_or("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not")?;
            let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let index = id.checked_sub(min).ok_or("SLURM_ARRAY_TASK_ID is below SLURM_ARRAY_TASK_MIN")?;
            return Self::new(index, count)
                .map(Some)
                .map_err(|e| format!("Slurm array: {e} (use a contiguous --array range)"));
        }
        if let Some(index) = num("JOB_COMPLETION_INDEX")? {
            let count = num("MARLIN_SHARD_COUNT")?.ok_or("JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job): set MARLIN_SHARD_COUNT to the Job's completions, or pass --shard")?;
            return Self::new(index, count).map(Some).map_err(|e| format!("Kubernetes Indexed Job: {e}"));
        }
        Ok(None)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `I/N`, 0 ≤ I < N.
    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s.split_once('/').ok_or_else(|| format!("`{s}`: a shard is written I/N, e.g. 0/4"))?;
        let num = |x: &str| x.trim().parse::<usize>().map_err(|_| format!("`{s}`: a shard is written I/N, e.g. 0/4"));
        Self::new(num(i)?, num(n)?)
    }
}

/// FNV-1a (64-bit) of an id: the same on every machine and run, so shards and the probe's
/// validation splits are reproducible.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_goes_to_exactly_one_shard() {
        let ids: Vec<String> = (0..300).map(|i| format!("dir/video{i}")).collect();
        let shards: Vec<Shard> = (0..3).map(|i| Shard::new(i, 3).unwrap()).collect();
        let mut sizes = [0; 3];
        for id in &ids {
            let owners: Vec<usize> = shards.iter().filter(|s| s.takes(id)).map(|s| s.index).collect();
            assert_eq!(owners.len(), 1);
            sizes[owners[0]] += 1;
        }
        assert!(sizes.iter().all(|&n| n > 70), "{sizes:?}");
    }

    #[test]
    fn the_hash_is_stable() {
        // FNV-1a 64 test vectors
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn parsing_and_names() {
        assert_eq!("1/3".parse::<Shard>().unwrap(), Shard { index: 1, count: 3 });
        assert!("3/3".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
        assert_eq!(Shard::from_dir_name("shard-2-of-5"), Some(Shard { index: 2, count: 5 }));
        assert_eq!(Shard::from_dir_name("shard-5-of-5"), None);
    }

    #[test]
    fn schedulers_are_read_from_the_environment() {
        let env = |pairs: &'static [(&str, &str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(Shard::from_env(env(&[])).unwrap(), None);
        let slurm =
            env(&[("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "4")]);
        assert_eq!(Shard::from_env(slurm).unwrap(), Some(Shard { index: 2, count: 4 }));
        let k8s = env(&[("JOB_COMPLETION_INDEX", "0"), ("MARLIN_SHARD_COUNT", "2")]);
        assert_eq!(Shard::from_env(k8s).unwrap(), Some(Shard { index: 0, count: 2 }));
        assert!(Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "0")])).unwrap_err().contains("MARLIN_SHARD_COUNT"));
    }
}
