//! Host entry points of the kernels: upload the inputs, launch (`repeat` times, timed between
//! synchronisations, for throughput), download the output.

use std::time::Instant;

use cudarc::driver::{CudaSlice, DevicePtr, DeviceRepr, LaunchConfig, PushKernelArg, ValidAsZeroBits};

use super::{Gpu, driver_error};
use crate::KernelError;
use crate::crop::Square;
use crate::patchify::TubeletShape;
use crate::resize::{ResizePlan, vector_end};

/// One square face crop: which frame of the batch, and the square.
#[derive(Debug, Clone, Copy)]
pub struct SquareJob {
    pub frame: usize,
    pub square: Square,
}

const BLOCK: u32 = 256;

fn grid(n: usize, faces: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: ((n as u32).div_ceil(BLOCK), faces as u32, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    }
}

fn i32_of(v: i64, what: &str) -> Result<i32, KernelError> {
    i32::try_from(v).map_err(|_| KernelError::Input(format!("{what} {v} is out of the kernel's range")))
}

/// Clips of `tokens` rows of `dim` floats.
#[derive(Debug, Clone, Copy)]
pub struct TokenRows {
    pub clips: usize,
    pub tokens: usize,
    pub dim: usize,
}

/// An op's output and the seconds its launches took (over all repeats).
pub type Timed<T> = (Vec<T>, f64);

/// Patch matrices in device memory, (clips × tokens × patch_dim) f32, written and synchronised.
pub struct DevicePatches {
    values: CudaSlice<f32>,
}

impl DevicePatches {
    /// The device address of the first value, valid while `self` lives (the kernels' stream
    /// has finished writing it).
    pub fn device_address(&self, gpu: &Gpu) -> u64 {
        let (ptr, _record) = self.values.device_ptr(&gpu.stream);
        ptr
    }
}

impl Gpu {
    /// `crop_resize_square` over `frames` (`n × height × width × 3` RGB u8).
    pub fn crop_resize_square(
        &self,
        frames: &[u8],
        width: usize,
        height: usize,
        jobs: &[SquareJob],
        out_side: usize,
        repeat: usize,
    ) -> Result<Timed<u8>, KernelError> {
        let n_frames = frames.len() / (width * height * 3).max(1);
        let (mut table, mut columns, mut rows) = (Vec::new(), Vec::new(), Vec::new());
        for j in jobs {
            if j.frame >= n_frames || j.square.side == 0 {
                return Err(KernelError::Input(format!("face job {j:?}: frame out of range or empty square")));
            }
            let side = j.square.side;
            let (mode, col_at, row_at) = match ResizePlan::new(side, side, out_side, out_side) {
                ResizePlan::Copy => (0, 0, 0),
                ResizePlan::Halve => (1, 0, 0),
                ResizePlan::Linear { columns: c, rows: r } => {
                    let at = (columns.len() / 3, rows.len() / 4);
                    columns.extend(c.iter().flat_map(|t| [t.x, t.a0, t.a1]));
                    rows.extend(r.iter().flat_map(|t| [t.y0, t.y1, t.b0, t.b1]));
                    (2, at.0, at.1)
                }
            };
            table.extend([
                j.frame as i32,
                i32_of(j.square.x0, "x0")?,
                i32_of(j.square.y0, "y0")?,
                i32_of(side as i64, "side")?,
                mode,
                col_at as i32,
                row_at as i32,
                0,
            ]);
        }
        columns.push(0);
        rows.push(0);
        let s = &self.stream;
        let d_frames = s.clone_htod(frames).map_err(driver_error)?;
        let (d_jobs, d_cols, d_rows) = (
            s.clone_htod(&table).map_err(driver_error)?,
            s.clone_htod(&columns).map_err(driver_error)?,
            s.clone_htod(&rows).map_err(driver_error)?,
        );
        let mut d_out = s.alloc_zeros::<u8>(jobs.len() * out_side * out_side * 3).map_err(driver_error)?;
        let f = self.function("crop_resize_square")?;
        let (w, h, side, vend) = (width as i32, height as i32, out_side as i32, vector_end(out_side) as i32);
        let seconds = self.timed(repeat, || {
            let mut b = s.launch_builder(f);
            b.arg(&d_frames)
                .arg(&w)
                .arg(&h)
                .arg(&d_jobs)
                .arg(&d_cols)
                .arg(&d_rows)
                .arg(&side)
                .arg(&vend)
                .arg(&mut d_out);
            // SAFETY: the arguments match the kernel's signature; the tables cover every face.
            unsafe { b.launch(grid(out_side * out_side, jobs.len())) }.map(|_| ()).map_err(driver_error)
        })?;
        Ok((s.clone_dtoh(&d_out).map_err(driver_error)?, seconds))
    }

    /// `warp_similarity`: per face, its frame and the inverse map (see `crop::warp_bilinear`).
    pub fn warp_similarity(
        &self,
        frames: &[u8],
        width: usize,
        height: usize,
        faces: &[(usize, [f64; 6])],
        out_side: usize,
        repeat: usize,
    ) -> Result<Timed<u8>, KernelError> {
        let s = &self.stream;
        let which: Vec<i32> = faces.iter().map(|(f, _)| *f as i32).collect();
        let maps: Vec<f64> = faces.iter().flat_map(|(_, m)| *m).collect();
        let d_frames = s.clone_htod(frames).map_err(driver_error)?;
        let (d_which, d_maps) =
            (s.clone_htod(&which).map_err(driver_error)?, s.clone_htod(&maps).map_err(driver_error)?);
        let mut d_out = s.alloc_zeros::<u8>(faces.len() * out_side * out_side * 3).map_err(driver_error)?;
        let f = self.function("warp_similarity")?;
        let (w, h, side) = (width as i32, height as i32, out_side as i32);
        let seconds = self.timed(repeat, || {
            let mut b = s.launch_builder(f);
            b.arg(&d_frames).arg(&w).arg(&h).arg(&d_which).arg(&d_maps).arg(&side).arg(&mut d_out);
            // SAFETY: the arguments match the kernel's signature.
            unsafe { b.launch(grid(out_side * out_side, faces.len())) }.map(|_| ()).map_err(driver_error)
        })?;
        Ok((s.clone_dtoh(&d_out).map_err(driver_error)?, seconds))
    }

    /// `patchify_f32` (or `patchify_f16`, returned as raw f16 bits) over `clips` of `shape`.
    pub fn patchify(
        &self,
        clips: &[u8],
        shape: TubeletShape,
        half: bool,
        repeat: usize,
    ) -> Result<Timed<u32>, KernelError> {
        if half {
            let (v, s) = self.patchify_as::<u16>(clips, shape, "patchify_f16", repeat)?;
            Ok((v.into_iter().map(u32::from).collect(), s))
        } else {
            let (v, s) = self.patchify_as::<f32>(clips, shape, "patchify_f32", repeat)?;
            Ok((v.into_iter().map(f32::to_bits).collect(), s))
        }
    }

    fn patchify_as<T: DeviceRepr + ValidAsZeroBits>(
        &self,
        clips: &[u8],
        shape: TubeletShape,
        kernel: &str,
        repeat: usize,
    ) -> Result<Timed<T>, KernelError> {
        let (d_out, seconds) = self.patchify_on_device::<T>(clips, shape, kernel, repeat)?;
        Ok((self.stream.clone_dtoh(&d_out).map_err(driver_error)?, seconds))
    }

    /// `patchify_f32` over `clips` (RGB u8, uploaded), its output left on the device for an
    /// inference runtime to read (the encoder's `patches` input).
    pub fn patchify_to_device(&self, clips: &[u8], shape: TubeletShape) -> Result<DevicePatches, KernelError> {
        let (values, _) = self.patchify_on_device::<f32>(clips, shape, "patchify_f32", 0)?;
        Ok(DevicePatches { values })
    }

    fn patchify_on_device<T: DeviceRepr + ValidAsZeroBits>(
        &self,
        clips: &[u8],
        shape: TubeletShape,
        kernel: &str,
        repeat: usize,
    ) -> Result<(CudaSlice<T>, f64), KernelError> {
        if !clips.len().is_multiple_of(shape.clip_len()) {
            return Err(KernelError::Input(format!(
                "patchify: {} bytes is not a whole number of clips of {}",
                clips.len(),
                shape.clip_len()
            )));
        }
        let n = clips.len() / shape.clip_len();
        let total = n * shape.tokens() * shape.patch_dim();
        let s = &self.stream;
        let d_clips = s.clone_htod(clips).map_err(driver_error)?;
        let mut d_out = s.alloc_zeros::<T>(total).map_err(driver_error)?;
        let f = self.function(kernel)?;
        let dims = [n as i32, shape.frames as i32, shape.side as i32, shape.patch as i32, shape.tubelet as i32];
        let seconds = self.timed(repeat, || {
            let mut b = s.launch_builder(f);
            b.arg(&d_clips).arg(&dims[0]).arg(&dims[1]).arg(&dims[2]).arg(&dims[3]).arg(&dims[4]).arg(&mut d_out);
            // SAFETY: the arguments match the kernel's signature; the output holds `total`.
            unsafe { b.launch(grid(total, 1)) }.map(|_| ()).map_err(driver_error)
        })?;
        Ok((d_out, seconds))
    }

    /// `gather_rows` (`base` empty, out: clips × count × dim) or `scatter_rows` (into a copy of
    /// `base`, clips × tokens × dim), with `count` indices per clip.
    pub fn move_rows(
        &self,
        src: &[f32],
        base: &[f32],
        layout: TokenRows,
        indices: &[u32],
        repeat: usize,
    ) -> Result<Timed<f32>, KernelError> {
        let TokenRows { clips, tokens, dim } = layout;
        let scatter = !base.is_empty();
        let count = indices.len() / clips.max(1);
        if count * clips != indices.len()
            || indices.iter().any(|&i| i as usize >= tokens)
            || src.len() != clips * if scatter { count } else { tokens } * dim
        {
            return Err(KernelError::Input(format!(
                "move_rows: {} indices for {clips} clips of {tokens} tokens, {} values",
                indices.len(),
                src.len()
            )));
        }
        let s = &self.stream;
        let (d_src, d_idx) = (s.clone_htod(src).map_err(driver_error)?, s.clone_htod(indices).map_err(driver_error)?);
        let mut d_out = if scatter {
            s.clone_htod(base).map_err(driver_error)?
        } else {
            s.alloc_zeros::<f32>(clips * count * dim).map_err(driver_error)?
        };
        let f = self.function(if scatter { "scatter_rows" } else { "gather_rows" })?;
        let dims = [clips as i32, tokens as i32, dim as i32, count as i32];
        let seconds = self.timed(repeat, || {
            let mut b = s.launch_builder(f);
            b.arg(&d_src).arg(&dims[0]).arg(&dims[1]).arg(&dims[2]).arg(&d_idx).arg(&dims[3]).arg(&mut d_out);
            // SAFETY: the arguments match the kernel's signature; indices are below `tokens`.
            unsafe { b.launch(grid(clips * count * dim, 1)) }.map(|_| ()).map_err(driver_error)
        })?;
        Ok((s.clone_dtoh(&d_out).map_err(driver_error)?, seconds))
    }

    /// Seconds per launch: one warm-up launch, then `repeat` timed ones.
    fn timed(&self, repeat: usize, mut launch: impl FnMut() -> Result<(), KernelError>) -> Result<f64, KernelError> {
        launch()?;
        self.stream.synchronize().map_err(driver_error)?;
        if repeat == 0 {
            return Ok(0.0);
        }
        let t = Instant::now();
        for _ in 0..repeat.max(1) {
            launch()?;
        }
        self.stream.synchronize().map_err(driver_error)?;
        Ok(t.elapsed().as_secs_f64() / repeat.max(1) as f64)
    }
}
