//! The CLI's photo decoding on arbitrary bytes: an error or an image within the size limits, never a
//! panic or an allocation of what a header merely declares.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(img) = lrp::photo::decode(data) {
        assert!(img.width as u64 * img.height as u64 <= lrp::photo::MAX_IMAGE_PIXELS);
        assert_eq!(img.rgba.len(), img.width as usize * img.height as usize * 4);
        let crop = lrp::photo::center_crop(img.width, img.height, lrp::photo::CROP_FRACTION);
        let _ = lrp::photo::crop_planes(&img, crop, 32);
    }
});
