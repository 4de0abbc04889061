@ __gnu_mcount_nc for the standalone -pg corpus programs: counts calls in __mcount_calls.
@ Call site: push {lr}; bl __gnu_mcount_nc. So [sp] = the traced function's own return address,
@ lr = the return address into the traced function. r0-r3 (its arguments) must survive.
	.syntax unified
	.thumb
	.text
	.align 2
	.global __gnu_mcount_nc
	.type __gnu_mcount_nc, %function
	.thumb_func
__gnu_mcount_nc:
	push {r0, r1}
	ldr r0, =__mcount_calls
	ldr r1, [r0]
	adds r1, #1
	str r1, [r0]
	pop {r0, r1}
	mov ip, lr
	ldr lr, [sp], #4	@ undo the call site's push {lr}
	bx ip
	.ltorg
	.size __gnu_mcount_nc, . - __gnu_mcount_nc

	.bss
	.align 2
	.global __mcount_calls
	.type __mcount_calls, %object
__mcount_calls:
	.space 4
	.size __mcount_calls, 4
