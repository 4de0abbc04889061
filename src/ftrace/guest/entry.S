@ entry.S: the guest half of dynamic ftrace for the simulated Thumb-2 (ARMv7-M) machine.
@
@ A Thumb-2 port of the CONFIG_DYNAMIC_FTRACE part of Linux v3.6 arch/arm/kernel/entry-common.S (the
@ __gnu_mcount_nc flavour; no CONFIG_OLD_MCOUNT, no WITH_REGS), plus host-call trampolines through which the
@ Python side of ftrace (the "kernel" C code: the tracers, prepare_ftrace_return, ftrace_return_to_handler) runs.
@
@ The call site gcc -pg emits, after the function's own prologue (0..8 bytes of it):
@
@       push    {lr}                    @ 0xb500
@       bl      __gnu_mcount_nc         @ rec->ip: the BL's address (even), MCOUNT_INSN_SIZE = 4
@
@ Contract on entry to any mcount target (__gnu_mcount_nc, ftrace_caller), as in the kernel's ARM EABI entry:
@   [sp]    the word the site pushed: the traced function's incoming lr = the parent's return address (parent_ip)
@   lr      the return address into the traced function, just after the BL, bit 0 set (Thumb)
@   ip      = (lr & ~1) - 4 = the BL's address (mcount_adjust_addr), what the tracer is told as `ip`
@   r0-r3   the traced function's arguments: preserved; ip (r12) and the flags may be clobbered (AAPCS)
@ and every target leaves with the site's push undone (sp as it was before the push {lr}, lr = parent_ip),
@ continuing just after the BL.
@
@ Patch sites the host writes (each a 32-bit Thumb-2 instruction, 4-byte aligned so that a patch is ONE
@ aligned word store that no core can observe half-done; the call sites themselves are only 2-byte aligned):
@   ftrace_call         bl ftrace_stub  <->  bl <tracer>   (ftrace_update_ftrace_func)
@   ftrace_graph_call   nop.w (0xf3af 0x8000)  <->  b.w ftrace_graph_caller
@                       (ftrace_enable_ftrace_graph_caller; the kernel's ARM NOP here is `mov r0, r0`)
@
@ Host trampolines (prepare_ftrace_return, ftrace_return_to_handler, ftrace_tramp_0 .. ftrace_tramp_15), each
@ 12 bytes, 4-byte aligned:
@       sym+0   ldr.w   ip, [pc, #4]    @ loads the literal at sym+8
@       sym+4   bx      ip
@       sym+6   nop
@       sym+8   .word   0               @ the HOST fills this at ftrace_init with a host-call address | 1
@ A guest `bl sym` therefore runs the host function bound to that slot with the caller's registers, and the
@ host call returns to lr (cpu.Machine.register_hostcall).  An unfilled literal (0) faults on `bx ip` (an even
@ address is not a Thumb target), so a forgotten fill is loud.
@
@ Nothing in this file is compiled with -pg: the runtime is notrace (no_instrument_function) by construction,
@ and record_mcount() excludes these symbols anyway.

	.syntax unified
	.thumb
	.text

@ ENTRY(sym): a global Thumb function symbol, so the loader's symbol table maps it (bit 0 of its value set).
	.macro	ENTRY name
	.global	\name
	.type	\name, %function
	.thumb_func
\name:
	.endm

@ mcount_enter (entry-common.S): save the arguments and the return address into the traced function.
@ Five words: the site's push {lr} is now at [sp, #20].
	.macro	mcount_enter
	stmdb	sp!, {r0-r3, lr}
	.endm

@ mcount_get_lr (entry-common.S, __gnu_mcount_nc flavour): the parent's return address, pushed by the site.
	.macro	mcount_get_lr reg
	ldr.w	\reg, [sp, #20]
	.endm

@ mcount_adjust_addr (entry-common.S): rd = (rn & ~1) - MCOUNT_INSN_SIZE, the BL's address (rec->ip).
@ Clearing bit 0 is ARM 7299/1 ("clear zero bit in reported IPs for Thumb-2").
	.macro	mcount_adjust_addr rd, rn
	bic	\rd, \rn, #1
	sub.w	\rd, \rd, #4
	.endm

@ mcount_exit (entry-common.S): restore the arguments, ip = return address into the traced function,
@ lr = the word the site pushed (this pops it: the site's push {lr} is undone), and go back.
@ The kernel's ARM `mov pc, ip` is `bx ip` here (Thumb state must be kept).
	.macro	mcount_exit
	ldmia	sp!, {r0-r3, ip, lr}
	bx	ip
	.endm

@ ---------------------------------------------------------------------------------------------------------
@ __gnu_mcount_nc, CONFIG_DYNAMIC_FTRACE flavour (ENTRY(__gnu_mcount_nc) in entry-common.S): only a site
@ that still calls it gets here, i.e. before ftrace_init has converted the sites to NOPs.  Undo the push
@ and return: exactly what the NOP (pop.w {lr} = ldr.w lr, [sp], #4) does inline.
	.balign	4
	ENTRY	__gnu_mcount_nc
	mov	ip, lr
	ldmia	sp!, {lr}		@ a one-register LDM: the assembler emits ldr.w lr, [sp], #4 (pop.w {lr})
	bx	ip
	.size	__gnu_mcount_nc, . - __gnu_mcount_nc

@ ---------------------------------------------------------------------------------------------------------
@ ftrace_caller (ENTRY(ftrace_caller) = the __ftrace_caller macro in entry-common.S): where an enabled site
@ calls.  The tracer function is called as func(ip, parent_ip) with r0 = ip, r1 = parent_ip.
	.balign	4
	ENTRY	ftrace_caller
	mcount_enter				@ +0   4 bytes
	mcount_get_lr	r1			@ +4   4 bytes: r1 = parent_ip ("lr of instrumented func")
	mcount_adjust_addr	r0, lr		@ +8   8 bytes: r0 = ip ("instrumented function")

@ ftrace_call: the patch site for the current tracer (ftrace_update_ftrace_func).  4-byte aligned: the
@ four instructions above are 32-bit, so this .balign adds no padding (the tests check the alignment).
	.balign	4
	ENTRY	ftrace_call			@ +16
	bl	ftrace_stub

@ ftrace_graph_call: the patch site for the graph caller, nop.w or b.w ftrace_graph_caller.  4-byte aligned
@ because ftrace_call is and its BL is 4 bytes.
	ENTRY	ftrace_graph_call		@ +20
	nop.w

	mcount_exit				@ +24
	.size	ftrace_caller, . - ftrace_caller

@ ---------------------------------------------------------------------------------------------------------
@ ftrace_graph_caller (ENTRY(ftrace_graph_caller) = the __ftrace_graph_caller macro, DYNAMIC_FTRACE branch):
@ reached by `b.w ftrace_graph_caller` from ftrace_graph_call, with ftrace_caller's frame still on the stack:
@   [sp, #0..#12] r0-r3   [sp, #16] lr (return address into the traced function)   [sp, #20] the site's push
@   sp + 24 = the sp the traced function had at its site, just before the push {lr}.
@ The kernel passes &parent = fp - 4 and fp from an APCS frame; Thumb-2 has none, so here:
@   r0 = parent slot = sp + 20 (the pushed word, which mcount_exit reloads into lr: hijacking it redirects a
@        function that returns through lr; one that saved lr in its prologue is found through r2 and the
@        record's lr_offset, see recordmcount.py)
@   r1 = self_addr = (saved lr & ~1) - 4 (the site)
@   r2 = frame = sp + 24
@ then prepare_ftrace_return(parent, self_addr, frame) and mcount_exit.
	.balign	4
	ENTRY	ftrace_graph_caller
	add	r0, sp, #20			@ kernel: sub r0, fp, #4
	ldr	r1, [sp, #16]			@ instrumented routine (func), saved by mcount_enter
	mcount_adjust_addr	r1, r1
	add	r2, sp, #24			@ kernel: mov r2, fp
	bl	prepare_ftrace_return
	mcount_exit
	.size	ftrace_graph_caller, . - ftrace_graph_caller

@ ---------------------------------------------------------------------------------------------------------
@ return_to_handler (entry-common.S, CONFIG_FUNCTION_GRAPH_TRACER): a hijacked function "returns" here.
@ r0-r3 hold its return value; r0 for ftrace_return_to_handler is the sp at the traced function's return
@ (sp + 16 once r0-r3 are pushed), the Thumb-2 stand-in for the kernel's `mov r0, fp`, for the frame test.
@ ftrace_return_to_handler returns the original return address (bit 0 set) in r0.
	.balign	4
	ENTRY	return_to_handler
	push	{r0-r3}
	add	r0, sp, #16			@ kernel: mov r0, fp
	bl	ftrace_return_to_handler
	mov	lr, r0				@ r0 has real ret addr
	pop	{r0-r3}
	bx	lr				@ kernel: mov pc, lr
	.size	return_to_handler, . - return_to_handler

@ ---------------------------------------------------------------------------------------------------------
@ ftrace_stub (ENTRY(ftrace_stub) in entry-common.S): the tracer that does nothing.
	.balign	4
	ENTRY	ftrace_stub
	bx	lr				@ kernel: mov pc, lr
	.size	ftrace_stub, . - ftrace_stub

@ ---------------------------------------------------------------------------------------------------------
@ Host trampolines: the C functions of kernel/trace and arch/arm/kernel/ftrace.c run on the host.
@ Layout (12 bytes, 4-byte aligned; the literal is at sym+8 and the host fills it with hostcall | 1):
	.macro	HOST_TRAMPOLINE name
	.balign	4
	ENTRY	\name
	ldr.w	ip, 1f				@ sym+0: ip = the literal at sym+8 (pc-relative, [pc, #4])
	bx	ip				@ sym+4: to the host call; it returns to our caller's lr
	nop					@ sym+6: keeps the literal word-aligned
1:	.word	0				@ sym+8: host-call address | 1, filled by the host at ftrace_init
	.size	\name, . - \name
	.endm

	HOST_TRAMPOLINE	prepare_ftrace_return		@ (unsigned long *parent, self_addr, frame)
	HOST_TRAMPOLINE	ftrace_return_to_handler	@ (frame) -> original return address

@ ftrace_tramp_0 .. ftrace_tramp_15: targets the host patches ftrace_call to (`bl ftrace_tramp_N`): one per
@ tracer function the host wants to call directly (ftrace_ops_list_func, a single ops' func, ...).
	.irp	n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
	HOST_TRAMPOLINE	ftrace_tramp_\n
	.endr
