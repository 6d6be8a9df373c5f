//! The spatial layers (zero padding, cropping, up-sampling) are linear maps, so their backward
//! is their adjoint: <layer(x), p> equals <x, backward(p)> for any x and probe p. Checked for
//! each layer of the family with arguments that make every case occur (uneven pairs, zeros,
//! repeated positions).

use ndarray::Array2;
use stratic_core::shape::{layer_spec, Dim, ParamValue, TensorSpec};
use stratic_core::{build_dyn, ForwardContext, Input, Rng};

fn ints(v: &[i64]) -> ParamValue {
    ParamValue::Ints(v.to_vec().into())
}

fn adjoint_holds(name: &str, arg: (&'static str, ParamValue), spatial: &[usize]) {
    let spec = layer_spec(name).expect("registered");
    let config = spec.configure(vec![arg]);
    let channels = 3;
    let mut dims: Vec<Dim> = spatial.iter().map(|&d| Dim::Known(d)).collect();
    dims.push(Dim::Known(channels));
    let input = TensorSpec::dense(dims);
    let out_spec = spec
        .output_spec(&stratic_core::shape::RuleInput {
            name,
            config: &config,
            inputs: std::slice::from_ref(&input),
        })
        .expect("the rule accepts it");
    let mut rng = Rng::new(7);
    let mut layer = build_dyn(spec, &config, &[input], &mut rng).expect("a runtime layer");
    let batch = 2;
    let positions: usize = spatial.iter().product();
    let out_positions: usize = out_spec.dims[..spatial.len()]
        .iter()
        .map(|d| d.known().expect("known"))
        .product();
    let x = Array2::from_shape_fn((batch * positions, channels), |(r, c)| {
        ((r * 7 + c * 3) % 13) as f32 - 6.0
    });
    let p = Array2::from_shape_fn((batch * out_positions, channels), |(r, c)| {
        ((r * 5 + c * 11) % 17) as f32 - 8.0
    });
    layer.forward(Input::Dense(x.view()), &mut ForwardContext::default());
    let y = layer.output().to_owned();
    assert_eq!(y.dim(), p.dim(), "{name}: output rows");
    layer.backward(Input::Dense(x.view()), p.view(), true);
    let dx = layer.grad_input().to_owned();
    let lhs: f32 = (&y * &p).sum();
    let rhs: f32 = (&x * &dx).sum();
    assert_eq!(lhs, rhs, "{name}: <layer(x), p> != <x, backward(p)>");
    assert_eq!(
        layer.call(Input::Dense(x.view())),
        y,
        "{name}: call == forward"
    );
}

#[test]
fn every_spatial_layer_backward_is_its_adjoint() {
    adjoint_holds("zero_padding_1d", ("padding", ints(&[2, 1])), &[5]);
    adjoint_holds("zero_padding_2d", ("padding", ints(&[1, 2, 0, 3])), &[3, 4]);
    adjoint_holds("cropping_1d", ("cropping", ints(&[1, 2])), &[6]);
    adjoint_holds("cropping_2d", ("cropping", ints(&[0, 1, 2, 1])), &[4, 5]);
    adjoint_holds("up_sampling_1d", ("size", ParamValue::Int(3)), &[4]);
    adjoint_holds("up_sampling_2d", ("size", ints(&[2, 3])), &[3, 2]);
}
