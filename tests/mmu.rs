//! The MMU on the real image: the kernel runs high with W^X, a guard page under the stack, and
//! user address spaces separated by ASIDs with exact TLB maintenance.
mod common;
use common::Boot;

#[test]
fn writing_kernel_text_is_a_permission_fault() {
    let o = Boot::default().args("test=write-text").run();
    o.assert_status(102);
    o.assert_contains("class: data abort from the same EL (EC 0x25)");
    o.assert_contains("abort: permission fault, level 3 (FSC 0x0f), write at FAR 0xffff0000400");
}

#[test]
fn executing_data_is_a_permission_fault() {
    let o = Boot::default().args("test=exec-data").run();
    o.assert_status(102);
    o.assert_contains("class: instruction abort from the same EL (EC 0x21)");
    o.assert_contains("abort: permission fault, level 3 (FSC 0x0f), read at FAR 0xffff00004");
    // The fault is the fetch of the data itself: FAR is the PC, inside the kernel image.
    let at = o.output.find("read at FAR ").expect("a FAR") + "read at FAR ".len();
    let far = &o.output[at..at + 18];
    o.assert_contains(&format!("ELR {far}"));
}

#[test]
fn kernel_stack_overflow_hits_the_guard_page() {
    let o = Boot::default().args("test=stack-overflow").run();
    o.assert_status(102);
    o.assert_contains("kernel stack overflow: SP 0xffff");
    o.assert_contains("while taking: data abort from the same EL");
}

fn asid_isolation(cpu: &str, mem: &str) {
    let o = Boot::default().cpu(cpu).mem(mem).args("test=asid").run();
    o.assert_status(0);
    o.assert_contains("asid: A reads 0x746964656d61726b");
    o.assert_contains("asid: B faults");
    o.assert_contains("asid: A again reads 0x746964656d61726b");
    o.assert_contains("asid: A after unmap faults");
    let line = o
        .output
        .lines()
        .find(|l| l.starts_with("asid: frames"))
        .unwrap();
    let nums: Vec<usize> = line
        .split([' ', ','])
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(nums[0], nums[1], "frames leaked: {line}");
}

#[test]
fn asids_isolate_address_spaces_on_cortex_a53() {
    asid_isolation("cortex-a53", "512M");
}

#[test]
fn asids_isolate_address_spaces_on_cortex_a72_128m() {
    asid_isolation("cortex-a72", "128M");
}

#[test]
fn asids_isolate_address_spaces_on_max_4g() {
    asid_isolation("max", "4G");
}

#[test]
fn w_x_holds_on_cortex_a53_and_max() {
    for cpu in ["cortex-a53", "max"] {
        let o = Boot::default().cpu(cpu).args("test=write-text").run();
        o.assert_status(102);
        o.assert_contains("permission fault, level 3");
    }
}

#[test]
fn pan_stops_privileged_access_to_user_memory_on_max() {
    let o = Boot::default().cpu("max").args("test=pan").run();
    o.assert_status(102);
    o.assert_contains("pan: FEAT_PAN on");
    o.assert_contains(
        "abort: permission fault, level 3 (FSC 0x0f), read at FAR 0x0000000000400000",
    );
    // Without FEAT_PAN (Cortex-A72) the same load goes through.
    let o = Boot::default().cpu("cortex-a72").args("test=pan").run();
    o.assert_status(0);
    o.assert_contains("pan: the load succeeded");
}
