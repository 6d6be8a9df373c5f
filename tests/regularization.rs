//! The regularization example cures overfitting: with a fixed seed, the plain MLP learns its 200
//! training images by heart and the one with dropout, batch normalization and l2 validates at
//! least as well (mean validation accuracy of the last epochs, steadier than the last one).

#[allow(dead_code)] // The example's `main` is not called here.
#[path = "../examples/regularization.rs"]
mod regularization;

#[test]
fn the_regularized_mlp_validates_no_worse_than_the_plain_one() {
    let (plain, regularized) = regularization::compare(7, 0).unwrap();
    let plain_train = plain.history.get("accuracy").last().copied().unwrap();
    // The plain model overfits: perfect on its training images, not on the held-out ones.
    assert!(plain_train >= 0.99, "plain training accuracy {plain_train}");
    assert!(
        plain.tail_val_accuracy < plain_train - 0.03,
        "plain: training {plain_train}, validation {}",
        plain.tail_val_accuracy
    );
    assert!(
        regularized.tail_val_accuracy >= plain.tail_val_accuracy,
        "regularized {} < plain {}",
        regularized.tail_val_accuracy,
        plain.tail_val_accuracy
    );
    // Both curves were recorded for every epoch, validation included.
    for run in [&plain, &regularized] {
        assert_eq!(
            run.history.get("val_accuracy").len(),
            regularization::EPOCHS
        );
    }
}
