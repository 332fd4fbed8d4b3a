use elfext::*;
use std::ffi::CStr;
use std::sync::atomic::{AtomicUsize, Ordering};

static PRINTS: AtomicUsize = AtomicUsize::new(0);
extern "C" fn host_print(msg: *const std::ffi::c_char) -> i32 {
    let s = unsafe { CStr::from_ptr(msg) };
    println!("ext says: {}", s.to_str().unwrap());
    PRINTS.fetch_add(1, Ordering::SeqCst);
    s.to_bytes().len() as i32
}
exports! { static HOST = [fn host_print]; }

#[test]
fn smoke() {
    let obj = std::fs::read("/tmp/hello.o").unwrap();
    let reg = Registry::new(HostMemory::new(1 << 20).unwrap(), &HOST);
    let r = reg
        .load_with_report("hello", BufLoader::temporary(&obj))
        .unwrap();
    println!("{r:?}");
    let f = reg
        .with("hello", |e| unsafe {
            e.function::<extern "C" fn() -> i32>("hello")
        })
        .unwrap()
        .unwrap();
    assert_eq!(f(), 23);
    println!("{:?}", reg.heap_stats());
    assert_eq!(reg.unload("hello").unwrap(), 0);
    assert_eq!(reg.heap_stats().total(), 0);
}
