/*
 * vigil_kernel.h: the few kernel types Vigil's BPF programs read, kept by hand.
 *
 * Every struct carries preserve_access_index, so clang records field accesses as CO-RE
 * relocations and libbpf re-resolves them against the running kernel's BTF at load:
 * field order and offsets here do not matter, only names and types. Only fields Vigil
 * reads are listed. This replaces a multi-megabyte generated vmlinux.h.
 */
#ifndef VIGIL_KERNEL_H
#define VIGIL_KERNEL_H

#include <linux/types.h>

typedef int pid_t;
typedef unsigned short umode_t;
typedef struct { __u32 val; } kuid_t;
typedef struct { __u32 val; } kgid_t;

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

/* Syscall arguments as the entry code saved them, per architecture (read through
 * VG_SYSCALL_ARG1..5 below, never by field name elsewhere). */
#if defined(__TARGET_ARCH_x86)
struct pt_regs {
    unsigned long di, si, dx, r10, r8, r9;
    unsigned long orig_ax;
};
#define VG_SYSCALL_ARG1(r) ((r)->di)
#define VG_SYSCALL_ARG2(r) ((r)->si)
#define VG_SYSCALL_ARG3(r) ((r)->dx)
#define VG_SYSCALL_ARG4(r) ((r)->r10)
#define VG_SYSCALL_ARG5(r) ((r)->r8)
#elif defined(__TARGET_ARCH_arm64)
struct pt_regs {
    unsigned long regs[31];
    unsigned long sp, pc, pstate;
    unsigned long orig_x0;  /* x0 at entry: the first argument (x0 becomes the return value) */
};
#define VG_SYSCALL_ARG1(r) ((r)->orig_x0)
#define VG_SYSCALL_ARG2(r) ((r)->regs[1])
#define VG_SYSCALL_ARG3(r) ((r)->regs[2])
#define VG_SYSCALL_ARG4(r) ((r)->regs[3])
#define VG_SYSCALL_ARG5(r) ((r)->regs[4])
#else
#error "vigil_kernel.h: define __TARGET_ARCH_x86 or __TARGET_ARCH_arm64"
#endif

struct cred {
    kuid_t uid;
    kgid_t gid;
    kuid_t euid;
};

struct mm_struct {
    unsigned long arg_start;
    unsigned long arg_end;
};

struct super_block {
    __u32 s_dev;          /* dev_t */
};

struct inode {
    umode_t i_mode;
    unsigned long i_ino;
    struct super_block *i_sb;
    unsigned int i_nlink;   /* in an anonymous union with __i_nlink */
    long long i_size;       /* loff_t */
};

struct qstr {
    union {
        struct {
            __u32 hash;
            __u32 len;
        };
        __u64 hash_len;
    };
    const unsigned char *name;
};

struct dentry {
    struct dentry *d_parent;
    struct qstr d_name;
    struct inode *d_inode;
};

struct vfsmount {
    struct dentry *mnt_root;
};

/* The mount a vfsmount is embedded in (container_of through the relocated offset of mnt). */
struct mount {
    struct mount *mnt_parent;
    struct dentry *mnt_mountpoint;
    struct vfsmount mnt;
};

struct path {
    struct vfsmount *mnt;
    struct dentry *dentry;
};

struct fs_struct {
    struct path pwd;
};

struct file {
    struct inode *f_inode;
    struct path f_path;
    unsigned int f_mode;  /* fmode_t */
    void *private_data;
};

struct vm_area_struct {
    unsigned long vm_start;
    unsigned long vm_flags;
    struct file *vm_file;
};

struct fdtable {
    unsigned int max_fds;
    struct file **fd;
};

struct files_struct {
    struct fdtable *fdt;
};

struct in6_addr {
    union {
        __u8 u6_addr8[16];
    } in6_u;
};

struct sock_common {
    __u32 skc_daddr;
    __u32 skc_rcv_saddr;
    __u16 skc_dport;      /* network order */
    __u16 skc_num;        /* host order */
    unsigned short skc_family;
    struct in6_addr skc_v6_daddr;
    struct in6_addr skc_v6_rcv_saddr;
};

struct sock {
    struct sock_common __sk_common;
    __u8 sk_userlocks;    /* SOCK_BINDPORT_LOCK: the port was asked for (a bitfield before 5.x: read with BPF_CORE_READ_BITFIELD_PROBED) */
    struct socket *sk_socket;
};

struct socket {
    short type;
    struct file *file;
    struct sock *sk;
};

typedef struct { int counter; } atomic_t;

struct signal_struct {
    atomic_t live;        /* threads still running; 0 once the last one is exiting */
};

struct task_struct {
    struct signal_struct *signal;
    pid_t pid;
    pid_t tgid;
    unsigned int flags;
    int exit_code;
    struct task_struct *real_parent;
    struct task_struct *group_leader;
    struct mm_struct *mm;
    struct files_struct *files;
    struct fs_struct *fs;
    struct cred *cred;
    char comm[16];
    __u64 start_time;
};

struct linux_binprm {
    struct file *file;    /* at sched_process_exec: the file that runs (a script's interpreter) */
    const char *filename;
    const char *interp;   /* the name of what runs: filename, until a script's binfmt names its interpreter */
};

#pragma clang attribute pop

/* Syscall numbers the probes test, per architecture (x86_64's table; arm64's is the
 * generic one). The request boundaries are in vigil_boundary.h. */
#if defined(__TARGET_ARCH_x86)
#define VG_NR_CONNECT 42
#define VG_NR_BIND 49
#define VG_NR_LISTEN 50
#define VG_NR_PTRACE 101
#define VG_NR_BPF 321
#define VG_NR_MMAP 9
#define VG_NR_MPROTECT 10
#define VG_NR_RENAME 82
#define VG_NR_RENAMEAT 264
#define VG_NR_RENAMEAT2 316
#define VG_NR_LINK 86
#define VG_NR_LINKAT 265
#define VG_NR_UNLINK 87
#define VG_NR_UNLINKAT 263
#define VG_NR_CHMOD 90
#define VG_NR_FCHMOD 91
#define VG_NR_FCHMODAT 268
#define VG_NR_FCHMODAT2 452
#else
#define VG_NR_CONNECT 203
#define VG_NR_BIND 200
#define VG_NR_LISTEN 201
#define VG_NR_PTRACE 117
#define VG_NR_BPF 280
#define VG_NR_MMAP 222
#define VG_NR_MPROTECT 226
#define VG_NR_RENAME -1 /* arm64 has only the *at forms */
#define VG_NR_RENAMEAT 38
#define VG_NR_RENAMEAT2 276
#define VG_NR_LINK -2
#define VG_NR_LINKAT 37
#define VG_NR_UNLINK -3
#define VG_NR_UNLINKAT 35
#define VG_NR_CHMOD -4
#define VG_NR_FCHMOD 52
#define VG_NR_FCHMODAT 53
#define VG_NR_FCHMODAT2 452
#endif

#define FMODE_WRITE 0x2
#define PROT_EXEC 0x4
#define VG_AT_FDCWD -100
#define MAP_ANONYMOUS 0x20
#define VM_EXEC 0x4

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define PF_KTHREAD 0x00200000

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10

#endif /* VIGIL_KERNEL_H */
