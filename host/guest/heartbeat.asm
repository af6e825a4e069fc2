; rejuv test guest: a 512-byte boot sector that proves a VM kept running across a warm reboot.
;
; It marks every 4 KiB page of RAM above 1 MiB with the page's own address (so RAM is really in use,
; and a classic save has to copy every page), then prints one serial line per timer tick (100 Hz):
;   BOOT                 once, at power-on
;   READY                once RAM is marked
;   HB 0000000001        then a counter that only ever goes up by one
;   BAD 0001052672       if a page (address in decimal) lost its mark: RAM was not preserved; then halts
; A guest that was restored from memory left in place continues its counter; one that rebooted
; prints BOOT again and starts over at 1. Each tick also re-checks 64 pages, sweeping all of RAM.
;
; Built with: nasm -f bin heartbeat.asm -o heartbeat.img
;
; The leaking variant (nasm -DLEAK_CALLS_PER_TICK=N) also makes its QEMU process age, the way a leaking
; VMM does: each tick it far-calls N code addresses it never called before (a 4 KiB block of RETF at
; 0x20000, entered through ever new CS:IP pairs that name the same bytes), so TCG translates N new blocks
; and the QEMU process's private memory (its translation buffer and block table) grows by N blocks a tick,
; while the guest's own RAM use stays what it was. A new QEMU process (a warm reboot) starts without
; them; the guest continues where it was, so the growth starts again from the new process's size.

bits 16
org 0x7c00

COM1 equ 0x3f8
PAGE equ 4096
FIRST_PAGE equ 0x100000
PAGES_CHECKED_PER_TICK equ 64
LEAK_SEGMENT equ 0x2000

start:
  cli
  xor ax, ax
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov sp, 0x7c00
  cld

  ; Unreal mode: load FS with a flat 4 GiB data segment in protected mode, then return to real mode
  ; with the large limit still cached, so [fs:edi] reaches all of RAM while the BIOS keeps working.
  lgdt [gdt_descriptor]
  mov eax, cr0
  or al, 1
  mov cr0, eax
  jmp short .protected
.protected:
  mov bx, flat_data - gdt
  mov fs, bx
  and al, 0xfe
  mov cr0, eax
  xor ax, ax
  mov fs, ax

  ; PIT channel 0 at 100 Hz (1193182 / 11932); the BIOS tick count at 0x46c then counts 10 ms ticks.
  mov al, 0x34
  out 0x43, al
  mov ax, 11932
  out 0x40, al
  mov al, ah
  out 0x40, al
  sti

  mov si, boot_line
  call print

%ifdef LEAK_CALLS_PER_TICK
  ; Fill 0x20000..0x20fff with RETF.
  push es
  mov ax, LEAK_SEGMENT
  mov es, ax
  xor di, di
  mov cx, 4096
  mov al, 0xcb
  rep stosb
  pop es
%endif

  ; Top of RAM: E801 reports 64 KiB blocks above 16 MiB in BX (or KiB between 1 and 16 MiB in AX).
  mov ax, 0xe801
  int 0x15
  movzx ebx, bx
  test ebx, ebx
  jz .below_16m
  shl ebx, 16
  add ebx, 0x1000000
  jmp .have_top
.below_16m:
  movzx ebx, ax
  shl ebx, 10
  add ebx, FIRST_PAGE
.have_top:
  mov [ram_top], ebx

  mov edi, FIRST_PAGE
.mark:
  mov [fs:edi], edi
  add edi, PAGE
  cmp edi, ebx
  jb .mark
  mov dword [next_check], FIRST_PAGE

  mov si, ready_line
  call print

tick_loop:
  hlt
  mov eax, [0x46c]
  cmp eax, [last_tick]
  je tick_loop
  mov [last_tick], eax

  ; Re-check a slice of the marked pages, wrapping around at the top of RAM.
  mov edi, [next_check]
  mov cx, PAGES_CHECKED_PER_TICK
.check:
  cmp edi, [ram_top]
  jb .in_range
  mov edi, FIRST_PAGE
.in_range:
  cmp [fs:edi], edi
  jne memory_lost
  add edi, PAGE
  loop .check
  mov [next_check], edi

%ifdef LEAK_CALLS_PER_TICK
  ; Call n = leak_n, leak_n+1, ...: s = n mod 2048 and o = (n / 2048) mod 4096 give CS = 0x2000 - s,
  ; IP = 16 s + o, always the RETF at 0x20000 + o, and 8 Mi distinct CS:IP pairs before they repeat.
  mov cx, LEAK_CALLS_PER_TICK
.leak:
  mov eax, [leak_n]
  inc dword [leak_n]
  mov bx, ax
  and bx, 0x7ff
  shr eax, 11
  and ax, 0xfff
  mov dx, bx
  shl dx, 4
  add ax, dx
  mov [leak_target], ax
  mov ax, LEAK_SEGMENT
  sub ax, bx
  mov [leak_target + 2], ax
  call far [leak_target]
  loop .leak
%endif

  inc dword [counter]
  mov si, heartbeat_prefix
  call print
  mov eax, [counter]
  call print_decimal
  jmp tick_loop

memory_lost:
  mov si, bad_prefix
  call print
  mov eax, edi
  call print_decimal
  cli
.halt:
  hlt
  jmp .halt

; Prints EAX as ten decimal digits and a newline.
print_decimal:
  mov ebx, 10
  mov di, digits + 9
  mov cx, 10
.digit:
  xor edx, edx
  div ebx
  add dl, '0'
  mov [di], dl
  dec di
  loop .digit
  mov si, digits
  ; falls through

; Prints the zero-terminated string at SI on COM1 (QEMU's UART never needs the guest to wait).
print:
  mov dx, COM1
.next:
  lodsb
  test al, al
  jz .done
  out dx, al
  jmp .next
.done:
  ret

gdt:
  dq 0
flat_data:
  dq 0x00cf92000000ffff
gdt_descriptor:
  dw gdt_descriptor - gdt - 1
  dd gdt

boot_line: db "BOOT", 10, 0
ready_line: db "READY", 10, 0
heartbeat_prefix: db "HB ", 0
bad_prefix: db "BAD ", 0
digits: db "0000000000", 10, 0
counter: dd 0
last_tick: dd 0
next_check: dd 0
ram_top: dd 0
%ifdef LEAK_CALLS_PER_TICK
leak_n: dd 0
leak_target: dd 0
%endif

times 510 - ($ - $$) db 0
dw 0xaa55
