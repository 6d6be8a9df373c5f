//! The passes of the normalization layers over row-major values laid out as `(outer, size,
//! inner)` blocks: `size` the normalized axis' length, `inner` the values after it (1 for
//! the last axis). Batch normalization reduces per channel (over `outer` and `inner`), layer
//! normalization per group (over `size`, for each `outer` and `inner`). Sums are accumulated
//! in `f64`, as the reductions of Keras' backends are pairwise: a long batch stays accurate.

/// The layout of the values a normalization runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Blocks {
    /// The normalized axis' length.
    pub size: usize,
    /// The values after the axis, per step along it.
    pub inner: usize,
    /// `size · inner`, checked when built; 0 makes every pass a no-op.
    block: usize,
}

impl Blocks {
    /// No value at all: every pass does nothing.
    pub(crate) const EMPTY: Blocks = Blocks {
        size: 0,
        inner: 1,
        block: 0,
    };

    /// The layout of an axis of `size` values with `inner` values after it; `None` if their
    /// product overflows.
    pub(crate) fn new(size: usize, inner: usize) -> Option<Blocks> {
        Some(Blocks {
            size,
            inner,
            block: size.checked_mul(inner)?,
        })
    }

    /// The number of values per step of the axes before the normalized one.
    fn block(&self) -> usize {
        // `chunks_exact(0)` panics; an empty block has nothing to normalize.
        self.block.max(1)
    }

    /// Whether the layout has no value (an axis of length 0): nothing to compute.
    fn is_empty(&self) -> bool {
        self.block == 0
    }

    /// The number of groups (layer normalization's unit) in `len` values.
    pub(crate) fn groups(&self, len: usize) -> usize {
        if self.is_empty() {
            0
        } else {
            (len / self.block).saturating_mul(self.inner)
        }
    }

    /// The values per channel (batch normalization's count) in `len` values.
    pub(crate) fn per_channel(&self, len: usize) -> usize {
        self.groups(len)
    }
}

// Calls `f(channel, segment)` for every run of `inner` values of one channel in `x`.
fn each_segment<'a>(x: &'a [f32], b: Blocks, mut f: impl FnMut(usize, &'a [f32])) {
    if b.is_empty() {
        return;
    }
    for blk in x.chunks_exact(b.block()) {
        for (c, seg) in blk.chunks_exact(b.inner).enumerate() {
            f(c, seg);
        }
    }
}

/// Batch normalization's statistics: the mean and biased variance of every channel over
/// `outer` and `inner`, two passes (as `moments`: the variance around the mean, not the
/// difference of squares). `acc` is scratch of `size` values. Returns the count per channel;
/// with 0 the statistics are left as they were.
pub(crate) fn channel_moments(
    x: &[f32],
    b: Blocks,
    acc: &mut [f64],
    mean: &mut [f32],
    var: &mut [f32],
) -> usize {
    let count = b.per_channel(x.len());
    if count == 0 {
        return 0;
    }
    acc.fill(0.0);
    if b.inner == 1 {
        // The last axis: whole rows, one value per channel, in a loop the compiler unrolls.
        for row in x.chunks_exact(b.block()) {
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += f64::from(v);
            }
        }
    } else {
        each_segment(x, b, |c, seg| {
            if let Some(a) = acc.get_mut(c) {
                *a += seg.iter().map(|&v| f64::from(v)).sum::<f64>();
            }
        });
    }
    let n = count as f64;
    let means: &[f64] = acc;
    for (m, &a) in mean.iter_mut().zip(means) {
        *m = (a / n) as f32;
    }
    acc.fill(0.0);
    if b.inner == 1 {
        for row in x.chunks_exact(b.block()) {
            for ((a, &v), &m) in acc.iter_mut().zip(row).zip(mean.iter()) {
                let d = f64::from(v) - f64::from(m);
                *a += d * d;
            }
        }
    } else {
        each_segment(x, b, |c, seg| {
            if let (Some(a), Some(&m)) = (acc.get_mut(c), mean.get(c)) {
                let m = f64::from(m);
                *a += seg
                    .iter()
                    .map(|&v| (f64::from(v) - m) * (f64::from(v) - m))
                    .sum::<f64>();
            }
        });
    }
    for (v, &a) in var.iter_mut().zip(acc.iter()) {
        *v = (a / n) as f32;
    }
    count
}

/// `out = x · scale[c] + shift[c]` for every value of channel `c`.
pub(crate) fn channel_affine(x: &[f32], b: Blocks, scale: &[f32], shift: &[f32], out: &mut [f32]) {
    if b.is_empty() {
        return;
    }
    for (xb, ob) in x
        .chunks_exact(b.block())
        .zip(out.chunks_exact_mut(b.block()))
    {
        if b.inner == 1 {
            for ((o, &v), (&s, &t)) in ob.iter_mut().zip(xb).zip(scale.iter().zip(shift)) {
                *o = v * s + t;
            }
            continue;
        }
        let segs = xb.chunks_exact(b.inner).zip(ob.chunks_exact_mut(b.inner));
        for ((xs, os), (&s, &t)) in segs.zip(scale.iter().zip(shift)) {
            for (o, &v) in os.iter_mut().zip(xs) {
                *o = v * s + t;
            }
        }
    }
}

/// `xhat = (x - mean[c]) · inv[c]`, what backward needs of the forward pass, and with
/// `affine = (gamma, beta, out)` also `out = gamma[c] · xhat + beta[c]` in the same pass.
pub(crate) fn channel_standardize(
    x: &[f32],
    b: Blocks,
    mean: &[f32],
    inv: &[f32],
    xhat: &mut [f32],
    affine: Option<(&[f32], &[f32], &mut [f32])>,
) {
    if b.is_empty() {
        return;
    }
    let Some((gamma, beta, out)) = affine else {
        for (xb, hb) in x
            .chunks_exact(b.block())
            .zip(xhat.chunks_exact_mut(b.block()))
        {
            let segs = xb.chunks_exact(b.inner).zip(hb.chunks_exact_mut(b.inner));
            for ((xs, hs), (&m, &i)) in segs.zip(mean.iter().zip(inv)) {
                for (h, &v) in hs.iter_mut().zip(xs) {
                    *h = (v - m) * i;
                }
            }
        }
        return;
    };
    let blocks = x
        .chunks_exact(b.block())
        .zip(xhat.chunks_exact_mut(b.block()))
        .zip(out.chunks_exact_mut(b.block()));
    for ((xb, hb), ob) in blocks {
        let per_channel = mean.iter().zip(inv).zip(gamma.iter().zip(beta));
        if b.inner == 1 {
            let values = hb.iter_mut().zip(ob.iter_mut()).zip(xb);
            for (((h, o), &v), ((&m, &i), (&g, &t))) in values.zip(per_channel) {
                *h = (v - m) * i;
                *o = *h * g + t;
            }
            continue;
        }
        let segs = xb
            .chunks_exact(b.inner)
            .zip(hb.chunks_exact_mut(b.inner))
            .zip(ob.chunks_exact_mut(b.inner));
        for (((xs, hs), os), ((&m, &i), (&g, &t))) in segs.zip(per_channel) {
            for ((h, o), &v) in hs.iter_mut().zip(os.iter_mut()).zip(xs) {
                *h = (v - m) * i;
                *o = *h * g + t;
            }
        }
    }
}

/// Per channel, `sum(dy)` into `sum_dy` and `sum(dy · xhat)` into `sum_dy_xhat` (both
/// overwritten): the gradients of `beta` and `gamma`.
pub(crate) fn channel_grad_sums(
    dy: &[f32],
    xhat: &[f32],
    b: Blocks,
    sum_dy: &mut [f64],
    sum_dy_xhat: &mut [f64],
) {
    sum_dy.fill(0.0);
    sum_dy_xhat.fill(0.0);
    if b.is_empty() {
        return;
    }
    for (db, hb) in dy.chunks_exact(b.block()).zip(xhat.chunks_exact(b.block())) {
        if b.inner == 1 {
            let sums = sum_dy.iter_mut().zip(sum_dy_xhat.iter_mut());
            for ((&d, &h), (s1, s2)) in db.iter().zip(hb).zip(sums) {
                *s1 += f64::from(d);
                *s2 += f64::from(d) * f64::from(h);
            }
            continue;
        }
        let segs = db.chunks_exact(b.inner).zip(hb.chunks_exact(b.inner));
        for ((ds, hs), (s1, s2)) in segs.zip(sum_dy.iter_mut().zip(sum_dy_xhat.iter_mut())) {
            for (&d, &h) in ds.iter().zip(hs) {
                *s1 += f64::from(d);
                *s2 += f64::from(d) * f64::from(h);
            }
        }
    }
}

/// Batch normalization's input gradient, per channel:
/// `dx = scale[c] · (dy - mean_dy[c] - xhat · mean_dy_xhat[c])`, with `scale = gamma · inv`.
/// With batch statistics the two means are those of the batch (the statistics depend on `x`);
/// with moving statistics they are 0 and `dx = scale · dy`.
pub(crate) fn channel_grad_input(
    dy: &[f32],
    xhat: &[f32],
    b: Blocks,
    scale: &[f32],
    mean_dy: &[f32],
    mean_dy_xhat: &[f32],
    dx: &mut [f32],
) {
    if b.is_empty() {
        return;
    }
    let blocks = dy
        .chunks_exact(b.block())
        .zip(xhat.chunks_exact(b.block()))
        .zip(dx.chunks_exact_mut(b.block()));
    for ((db, hb), gb) in blocks {
        if b.inner == 1 {
            let per_channel = scale.iter().zip(mean_dy).zip(mean_dy_xhat);
            for (((g, &d), &h), ((&s, &m1), &m2)) in gb.iter_mut().zip(db).zip(hb).zip(per_channel)
            {
                *g = s * (d - m1 - h * m2);
            }
            continue;
        }
        let segs = db
            .chunks_exact(b.inner)
            .zip(hb.chunks_exact(b.inner))
            .zip(gb.chunks_exact_mut(b.inner));
        let per_channel = scale.iter().zip(mean_dy).zip(mean_dy_xhat);
        for (((ds, hs), gs), ((&s, &m1), &m2)) in segs.zip(per_channel) {
            for ((g, &d), &h) in gs.iter_mut().zip(ds).zip(hs) {
                *g = s * (d - m1 - h * m2);
            }
        }
    }
}

/// Layer normalization's forward pass: every group (the `size` values of one `outer` and
/// `inner` position) normalized with its own mean and biased variance, then
/// `out = x · (inv · gamma[c]) + (beta[c] - mean · inv · gamma[c])` as Keras computes it.
/// With `keep`, `xhat` and each group's `inv` are stored for backward; inference passes
/// `None` and computes the same output.
pub(crate) fn group_normalize(
    x: &[f32],
    b: Blocks,
    gamma: &[f32],
    beta: &[f32],
    epsilon: f32,
    out: &mut [f32],
    mut keep: Option<(&mut [f32], &mut [f32])>,
) {
    if b.is_empty() {
        return;
    }
    let n = b.size as f64;
    if b.inner == 1 {
        // The last axis: every group is a row.
        let rows = x.chunks_exact(b.size).zip(out.chunks_exact_mut(b.size));
        for (r, (xr, or)) in rows.enumerate() {
            let mean = sum3(xr, xr, xr, |v, _, _| f64::from(v)) / n;
            let var = sum3(xr, xr, xr, |v, _, _| {
                (f64::from(v) - mean) * (f64::from(v) - mean)
            }) / n;
            let (mean, var) = (mean as f32, var as f32);
            let inv = 1.0 / (var + epsilon).sqrt();
            for ((o, &v), (&g, &t)) in or.iter_mut().zip(xr).zip(gamma.iter().zip(beta)) {
                let s = inv * g;
                *o = v * s + (t - mean * s);
            }
            if let Some((xhat, invs)) = keep.as_mut() {
                let start = r.saturating_mul(b.size);
                let hs = xhat.iter_mut().skip(start).take(b.size);
                for (h, &v) in hs.zip(xr) {
                    *h = (v - mean) * inv;
                }
                if let Some(slot) = invs.get_mut(r) {
                    *slot = inv;
                }
            }
        }
        return;
    }
    let (size, inner) = (b.size, b.inner);
    let mut group = 0usize;
    for (blk_index, (xb, ob)) in x
        .chunks_exact(b.block())
        .zip(out.chunks_exact_mut(b.block()))
        .enumerate()
    {
        for k in 0..inner {
            let values = || xb.iter().skip(k).step_by(inner).take(size);
            let mean = values().map(|&v| f64::from(v)).sum::<f64>() / n;
            let var = values()
                .map(|&v| (f64::from(v) - mean) * (f64::from(v) - mean))
                .sum::<f64>()
                / n;
            let (mean, var) = (mean as f32, var as f32);
            let inv = 1.0 / (var + epsilon).sqrt();
            let outs = ob.iter_mut().skip(k).step_by(inner);
            for ((o, &v), (&g, &t)) in outs.zip(values()).zip(gamma.iter().zip(beta)) {
                let s = inv * g;
                *o = v * s + (t - mean * s);
            }
            if let Some((xhat, invs)) = keep.as_mut() {
                let start = blk_index.saturating_mul(b.block());
                let hs = xhat.iter_mut().skip(start + k).step_by(inner).take(size);
                for (h, &v) in hs.zip(values()) {
                    *h = (v - mean) * inv;
                }
                if let Some(slot) = invs.get_mut(group) {
                    *slot = inv;
                }
            }
            group += 1;
        }
    }
}

/// Layer normalization's backward pass from the `xhat` and `inv` of its forward pass: the
/// sums `sum(dy)` and `sum(dy · xhat)` per channel (the gradients of `beta` and `gamma`,
/// added to `sum_dy` and `sum_dy_xhat`) and, when `dx` is given, per group
/// `dx = inv · (dxhat - mean(dxhat) - xhat · mean(dxhat · xhat))`, `dxhat = dy · gamma[c]`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn group_backward(
    dy: &[f32],
    xhat: &[f32],
    inv: &[f32],
    b: Blocks,
    gamma: &[f32],
    sum_dy: &mut [f64],
    sum_dy_xhat: &mut [f64],
    mut dx: Option<&mut [f32]>,
) {
    if b.is_empty() {
        return;
    }
    let n = b.size as f64;
    if b.inner == 1 {
        // The last axis: every group is a row.
        let rows = dy.chunks_exact(b.size).zip(xhat.chunks_exact(b.size));
        for (r, (dr, hr)) in rows.enumerate() {
            let sums = sum_dy.iter_mut().zip(sum_dy_xhat.iter_mut());
            for ((&d, &h), (s1, s2)) in dr.iter().zip(hr).zip(sums) {
                *s1 += f64::from(d);
                *s2 += f64::from(d) * f64::from(h);
            }
            let Some(dx) = dx.as_mut() else {
                continue;
            };
            let a1 = sum3(dr, gamma, hr, |d, g, _| f64::from(d) * f64::from(g));
            let a2 = sum3(dr, gamma, hr, |d, g, h| {
                f64::from(d) * f64::from(g) * f64::from(h)
            });
            let (m1, m2) = ((a1 / n) as f32, (a2 / n) as f32);
            let i = inv.get(r).copied().unwrap_or(0.0);
            let start = r.saturating_mul(b.size);
            let gs = dx.iter_mut().skip(start).take(b.size);
            for (o, ((&d, &h), &g)) in gs.zip(dr.iter().zip(hr).zip(gamma)) {
                *o = i * (d * g - m1 - h * m2);
            }
        }
        return;
    }
    let (size, inner) = (b.size, b.inner);
    let mut group = 0usize;
    let blocks = dy
        .chunks_exact(b.block())
        .zip(xhat.chunks_exact(b.block()))
        .enumerate();
    for (blk_index, (db, hb)) in blocks {
        for k in 0..inner {
            let pairs = || {
                db.iter()
                    .skip(k)
                    .step_by(inner)
                    .zip(hb.iter().skip(k).step_by(inner))
                    .take(size)
            };
            let (mut a1, mut a2) = (0.0f64, 0.0f64);
            for (((&d, &h), &g), (s1, s2)) in pairs()
                .zip(gamma)
                .zip(sum_dy.iter_mut().zip(sum_dy_xhat.iter_mut()))
            {
                *s1 += f64::from(d);
                *s2 += f64::from(d) * f64::from(h);
                let dh = f64::from(d) * f64::from(g);
                a1 += dh;
                a2 += dh * f64::from(h);
            }
            if let Some(dx) = dx.as_mut() {
                let (m1, m2) = ((a1 / n) as f32, (a2 / n) as f32);
                let i = inv.get(group).copied().unwrap_or(0.0);
                let start = blk_index.saturating_mul(b.block());
                let gs = dx.iter_mut().skip(start + k).step_by(inner).take(size);
                for (o, ((&d, &h), &g)) in gs.zip(pairs().zip(gamma)) {
                    *o = i * (d * g - m1 - h * m2);
                }
            }
            group += 1;
        }
    }
}

/// `Σ f(a[i], b[i], c[i])` over the common length, in 8 independent partial sums: a single
/// running `f64` sum is a chain of dependent additions, 8 of them fill the vector lanes.
fn sum3(a: &[f32], b: &[f32], c: &[f32], f: impl Fn(f32, f32, f32) -> f64) -> f64 {
    const LANES: usize = 8;
    let len = a.len().min(b.len()).min(c.len());
    let (a, b, c) = (
        a.get(..len).unwrap_or(&[]),
        b.get(..len).unwrap_or(&[]),
        c.get(..len).unwrap_or(&[]),
    );
    let (ac, bc, cc) = (
        a.chunks_exact(LANES),
        b.chunks_exact(LANES),
        c.chunks_exact(LANES),
    );
    let tail = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .zip(cc.remainder());
    let mut acc = [0.0f64; LANES];
    for ((x, y), z) in ac.zip(bc).zip(cc) {
        for (((s, &p), &q), &r) in acc.iter_mut().zip(x).zip(y).zip(z) {
            *s += f(p, q, r);
        }
    }
    let mut total: f64 = acc.iter().sum();
    for ((&p, &q), &r) in tail {
        total += f(p, q, r);
    }
    total
}
