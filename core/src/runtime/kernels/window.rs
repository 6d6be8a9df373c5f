//! Sliding-window kernels on channels-last rows: im2col / col2im for the convolutions (whose
//! products are then `sgemm`), and the max and average pooling windows. Every kernel works on
//! two spatial axes; a 1D layer is the 2D case with one row (`Window::unit()` as the first).
//!
//! Layout: `x` is `(n, h, w, c)` row-major; a column matrix `cols` is `(n · oh · ow, kh · kw · c)`,
//! its columns in `(ky, kx, c)` order, which is Keras' kernel layout `(kh, kw, c, filters)`
//! read as a `(kh · kw · c, filters)` matrix.

use crate::shape::layers::Window;

/// The two windows of a kernel: along rows (`h`) and along columns (`w`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    /// Along the rows (a single row for 1D layers).
    pub h: Window,
    /// Along the columns (the steps for 1D layers).
    pub w: Window,
}

impl Windows {
    /// The windows of a 1D or 2D layer, the 1D case as a single row.
    pub fn from_axes(axes: &[Window]) -> Windows {
        match axes {
            [h, w] => Windows { h: *h, w: *w },
            [w] => Windows { h: unit(), w: *w },
            _ => Windows {
                h: unit(),
                w: unit(),
            },
        }
    }

    /// Input positions per sample.
    pub fn input_size(&self) -> usize {
        self.h.input * self.w.input
    }

    /// Output positions per sample.
    pub fn output_size(&self) -> usize {
        self.h.output * self.w.output
    }

    /// Taps per window.
    pub fn taps(&self) -> usize {
        self.h.kernel * self.w.kernel
    }

    /// Whether every window is a single input position, the output positions the input's
    /// (a 1x1 kernel with unit strides): the column matrix would be the input itself.
    pub fn is_pointwise(&self) -> bool {
        [self.h, self.w]
            .iter()
            .all(|a| a.kernel == 1 && a.stride == 1 && a.pad_before == 0 && a.output == a.input)
    }
}

fn unit() -> Window {
    Window {
        input: 1,
        kernel: 1,
        stride: 1,
        dilation: 1,
        pad_before: 0,
        output: 1,
    }
}

/// Fills `cols` (`n · oh · ow` rows of `kh · kw · c`) from `x` (`n · h · w` rows of `c`);
/// taps in the padding are zeros.
pub fn im2col(x: &[f32], n: usize, c: usize, win: &Windows, cols: &mut [f32]) {
    let (wh, ww) = (&win.h, &win.w);
    let row_len = win.taps() * c;
    let mut rows = cols.chunks_exact_mut(row_len);
    for b in 0..n {
        let sample = &x[b * win.input_size() * c..][..win.input_size() * c];
        for oy in 0..wh.output {
            for ox in 0..ww.output {
                let Some(row) = rows.next() else { return };
                let mut taps = row.chunks_exact_mut(c);
                for ky in 0..wh.kernel {
                    let iy = wh.tap(oy, ky);
                    for kx in 0..ww.kernel {
                        let Some(dst) = taps.next() else { return };
                        match (iy, ww.tap(ox, kx)) {
                            (Some(iy), Some(ix)) => {
                                dst.copy_from_slice(&sample[(iy * ww.input + ix) * c..][..c])
                            }
                            _ => dst.fill(0.0),
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: `dx` (`n · h · w` rows of `c`) = the sum of every column entry
/// into the input position it was copied from.
pub fn col2im(cols: &[f32], n: usize, c: usize, win: &Windows, dx: &mut [f32]) {
    let (wh, ww) = (&win.h, &win.w);
    dx.fill(0.0);
    let row_len = win.taps() * c;
    let mut rows = cols.chunks_exact(row_len);
    for b in 0..n {
        let sample = &mut dx[b * win.input_size() * c..][..win.input_size() * c];
        for oy in 0..wh.output {
            for ox in 0..ww.output {
                let Some(row) = rows.next() else { return };
                let mut taps = row.chunks_exact(c);
                for ky in 0..wh.kernel {
                    let iy = wh.tap(oy, ky);
                    for kx in 0..ww.kernel {
                        let Some(src) = taps.next() else { return };
                        if let (Some(iy), Some(ix)) = (iy, ww.tap(ox, kx)) {
                            let dst = &mut sample[(iy * ww.input + ix) * c..][..c];
                            for (d, s) in dst.iter_mut().zip(src) {
                                *d += s;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Max pooling: `out` (`n · oh · ow` rows of `c`) = the maximum of each window over the
/// positions inside the input (padding is never the maximum, as in Keras); `argmax` (same
/// length as `out`) receives the input index of each maximum, for the backward pass.
pub fn max_pool(
    x: &[f32],
    n: usize,
    c: usize,
    win: &Windows,
    out: &mut [f32],
    mut argmax: Option<&mut [usize]>,
) {
    let (wh, ww) = (&win.h, &win.w);
    out.fill(f32::NEG_INFINITY);
    for b in 0..n {
        let base = b * win.input_size();
        for oy in 0..wh.output {
            for ox in 0..ww.output {
                let o = ((b * wh.output + oy) * ww.output + ox) * c;
                let dst = &mut out[o..o + c];
                let mut arg = argmax.as_deref_mut().map(|a| &mut a[o..o + c]);
                for ky in 0..wh.kernel {
                    let Some(iy) = wh.tap(oy, ky) else { continue };
                    for kx in 0..ww.kernel {
                        let Some(ix) = ww.tap(ox, kx) else { continue };
                        let i = (base + iy * ww.input + ix) * c;
                        let src = &x[i..i + c];
                        match arg.as_deref_mut() {
                            Some(arg) => {
                                for ch in 0..c {
                                    // `>` keeps the first maximum, as TensorFlow's gradient does.
                                    if src[ch] > dst[ch] || arg_unset(dst[ch]) {
                                        dst[ch] = src[ch];
                                        arg[ch] = i + ch;
                                    }
                                }
                            }
                            None => {
                                for (d, &s) in dst.iter_mut().zip(src) {
                                    *d = d.max(s);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

// The first tap of a window always wins (even a NaN or -inf value), so every output has an
// index.
#[inline]
fn arg_unset(current: f32) -> bool {
    current == f32::NEG_INFINITY
}

/// The backward of [`max_pool`]: each output gradient goes to its window's maximum.
pub fn max_pool_backward(grad_out: &[f32], argmax: &[usize], dx: &mut [f32]) {
    dx.fill(0.0);
    for (&g, &i) in grad_out.iter().zip(argmax) {
        if let Some(d) = dx.get_mut(i) {
            *d += g;
        }
    }
}

/// Average pooling: the mean of each window over the positions inside the input (padding is
/// not counted, as in Keras).
pub fn avg_pool(x: &[f32], n: usize, c: usize, win: &Windows, out: &mut [f32]) {
    let (wh, ww) = (&win.h, &win.w);
    out.fill(0.0);
    for b in 0..n {
        let base = b * win.input_size();
        for oy in 0..wh.output {
            for ox in 0..ww.output {
                let o = ((b * wh.output + oy) * ww.output + ox) * c;
                let dst = &mut out[o..o + c];
                let mut count = 0usize;
                for ky in 0..wh.kernel {
                    let Some(iy) = wh.tap(oy, ky) else { continue };
                    for kx in 0..ww.kernel {
                        let Some(ix) = ww.tap(ox, kx) else { continue };
                        let i = (base + iy * ww.input + ix) * c;
                        for (d, s) in dst.iter_mut().zip(&x[i..i + c]) {
                            *d += s;
                        }
                        count += 1;
                    }
                }
                let inv = 1.0 / count.max(1) as f32;
                dst.iter_mut().for_each(|d| *d *= inv);
            }
        }
    }
}

/// The backward of [`avg_pool`]: each output gradient, divided by its window's count, to
/// every position of the window.
pub fn avg_pool_backward(grad_out: &[f32], n: usize, c: usize, win: &Windows, dx: &mut [f32]) {
    let (wh, ww) = (&win.h, &win.w);
    dx.fill(0.0);
    for b in 0..n {
        let base = b * win.input_size();
        for oy in 0..wh.output {
            for ox in 0..ww.output {
                let o = ((b * wh.output + oy) * ww.output + ox) * c;
                let count = (0..wh.kernel).filter(|&k| wh.tap(oy, k).is_some()).count()
                    * (0..ww.kernel).filter(|&k| ww.tap(ox, k).is_some()).count();
                let inv = 1.0 / count.max(1) as f32;
                let g = &grad_out[o..o + c];
                for ky in 0..wh.kernel {
                    let Some(iy) = wh.tap(oy, ky) else { continue };
                    for kx in 0..ww.kernel {
                        let Some(ix) = ww.tap(ox, kx) else { continue };
                        let i = (base + iy * ww.input + ix) * c;
                        for (d, s) in dx[i..i + c].iter_mut().zip(g) {
                            *d += s * inv;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::layers::Padding;

    fn win(h: usize, w: usize, k: usize, s: usize, p: Padding) -> Windows {
        Windows {
            h: Window::new(h, k, s, 1, p).unwrap(),
            w: Window::new(w, k, s, 1, p).unwrap(),
        }
    }

    // <im2col(x), g> = <x, col2im(g)> for every x and g: col2im is im2col's adjoint.
    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        let win = win(5, 4, 3, 2, Padding::Same);
        let (n, c) = (2, 3);
        let x: Vec<f32> = (0..n * 20 * c).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut cols = vec![0.0; n * win.output_size() * win.taps() * c];
        im2col(&x, n, c, &win, &mut cols);
        let g: Vec<f32> = (0..cols.len()).map(|i| (i as f32 * 0.11).cos()).collect();
        let mut dx = vec![0.0; x.len()];
        col2im(&g, n, c, &win, &mut dx);
        let lhs: f64 = cols.iter().zip(&g).map(|(a, b)| (a * b) as f64).sum();
        let rhs: f64 = x.iter().zip(&dx).map(|(a, b)| (a * b) as f64).sum();
        assert!((lhs - rhs).abs() < 1e-4, "{lhs} vs {rhs}");
    }

    #[test]
    fn tied_maxima_give_the_gradient_to_the_first_in_row_major_order() {
        // TensorFlow's CPU `MaxPoolGrad` (the argmax of `SpatialMaxPoolWithArgMaxHelper`,
        // `output < input` strictly) keeps the first of equal inputs in (row, column) order:
        // the whole gradient goes there, none to the later ties.
        // One 2x4 image, two channels, 2x2 windows, stride 2: window 0 is all 5 in channel 0
        // and has 7 at (0, 1) and (1, 0) in channel 1; window 1 has 3 at (1, 2) and (1, 3).
        #[rustfmt::skip]
        let x = vec![
            5.0, 0.0,  5.0, 7.0,  1.0, 0.0,  2.0, 0.0,
            5.0, 7.0,  5.0, 1.0,  3.0, 0.0,  3.0, 0.0,
        ];
        let win = win(2, 4, 2, 2, Padding::Valid);
        let mut out = vec![0.0; 4];
        let mut arg = vec![0usize; 4];
        max_pool(&x, 1, 2, &win, &mut out, Some(&mut arg));
        assert_eq!(out, vec![5.0, 7.0, 3.0, 0.0]);
        let mut dx = vec![0.0; x.len()];
        max_pool_backward(&[1.0, 2.0, 3.0, 4.0], &arg, &mut dx);
        let mut want = vec![0.0; x.len()];
        // Channel 0: (0, 0) of window 0, (1, 2) of window 1; channel 1: (0, 1) of window 0,
        // (0, 2) of window 1 (all four of its values are 0).
        want[0] = 1.0;
        want[3] = 2.0;
        want[12] = 3.0;
        want[5] = 4.0;
        assert_eq!(dx, want);
    }

    #[test]
    fn pooling_skips_the_padding() {
        // One 3x3 image of one channel, 2x2 windows, stride 2, same padding: 2x2 outputs, the
        // last row and column of windows half outside.
        let x: Vec<f32> = (1..=9).map(|v| -(v as f32)).collect();
        let win = win(3, 3, 2, 2, Padding::Same);
        let mut out = vec![0.0; 4];
        let mut arg = vec![0usize; 4];
        max_pool(&x, 1, 1, &win, &mut out, Some(&mut arg));
        assert_eq!(out, vec![-1.0, -3.0, -7.0, -9.0]);
        assert_eq!(arg, vec![0, 2, 6, 8]);
        avg_pool(&x, 1, 1, &win, &mut out);
        assert_eq!(out, vec![-3.0, -4.5, -7.5, -9.0]);
        let mut dx = vec![0.0; 9];
        avg_pool_backward(&[1.0, 1.0, 1.0, 1.0], 1, 1, &win, &mut dx);
        assert_eq!(dx, vec![0.25, 0.25, 0.5, 0.25, 0.25, 0.5, 0.5, 0.5, 1.0]);
    }
}
