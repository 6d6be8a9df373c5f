//! The digits example learns real handwriting: with a fixed seed, its convnet reaches at least
//! 0.97 accuracy on the held-out 20 % of the images.

#[allow(dead_code)] // The example's `main` is not called here.
#[path = "../examples/digits.rs"]
mod digits;

#[test]
fn digits_convnet_reaches_97_percent_test_accuracy() {
    let accuracy = digits::train(7, 12, 0).unwrap();
    assert!(accuracy >= 0.97, "test accuracy {accuracy}");
}

#[test]
fn digits_data_is_the_uci_test_set() {
    let (x, y) = digits::load().unwrap();
    assert_eq!(x.dim(), (1797, 8, 8, 1));
    for d in 0..10 {
        let count = y.iter().filter(|&&v| v == d as f32).count();
        assert!((174..=183).contains(&count), "digit {d}: {count}");
    }
    assert!(x.iter().all(|&v| (0.0..=1.0).contains(&v)));
}
