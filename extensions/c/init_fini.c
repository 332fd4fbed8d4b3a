/*
 * Init and fini arrays: constructors and destructors with and without priorities, and a
 * .preinit_array entry. Each records a code through the host (`host_record`) and in the
 * extension's own log (`init_log`), so the host can check the order bringup/teardown ran
 * them in: preinit, then constructors by increasing priority, then plain constructors;
 * destructors in the opposite order.
 */
extern void host_record(int code);

int init_log[16];
int init_count;

static void note(int code)
{
	if (init_count < 16)
		init_log[init_count++] = code;
	host_record(code);
}

static void early_preinit(void) { note(1); }
__attribute__((section(".preinit_array"), used))
static void (*const preinit_entry)(void) = early_preinit;

__attribute__((constructor(101))) static void ctor_101(void) { note(101); }
__attribute__((constructor)) static void ctor_plain(void) { note(1000); }
__attribute__((constructor(200))) static void ctor_200(void) { note(200); }

__attribute__((destructor(101))) static void dtor_101(void) { note(-101); }
__attribute__((destructor)) static void dtor_plain(void) { note(-1000); }
__attribute__((destructor(200))) static void dtor_200(void) { note(-200); }

int init_calls(void) { return init_count; }
