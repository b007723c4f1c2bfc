################################################################################
#
# iocinit
#
################################################################################

# Built from the checkout this BR2_EXTERNAL tree lives in (its parent
# directory); IOCINIT_OVERRIDE_SRCDIR in local.mk points at another one.
IOCINIT_VERSION = local
IOCINIT_SITE = $(BR2_EXTERNAL_IOCINIT_PATH)/..
IOCINIT_SITE_METHOD = local
# Only the sources: not build output (the checkout's .gitignore), not this
# tree, not .cargo/ (the project's own static musl builds; Buildroot
# sets the linker and flags). Buildroot already leaves out VCS data.
IOCINIT_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude /target \
	--exclude /tests/fuzz/target \
	--exclude /tests/fuzz/corpus \
	--exclude /tests/fuzz/artifacts \
	--exclude /buildroot \
	--exclude /.cargo
IOCINIT_LICENSE = MIT
IOCINIT_LICENSE_FILES = LICENSE
# The ioc-srv account that IOCs run as, and its group ioc (who may
# manage IOCs); no login, no home directory.
IOCINIT_USERS = ioc-srv -1 ioc -1 * - - - EPICS IOC service
# IOC group members may install IOC files (setgid: new files get the group).
define IOCINIT_PERMISSIONS
	/etc/procServ.d d 2775 0 ioc - - - - -
	/var/log/procserv d 0755 0 0 - - - - -
endef

# Installed after BusyBox, so that our init, halt, reboot, poweroff
# and shutdown replace its links.
IOCINIT_DEPENDENCIES = $(if $(BR2_PACKAGE_BUSYBOX),busybox)

# Buildroot's cargo environment sets its own release profile (opt-level
# from BR2_OPTIMIZE_*, no LTO, 16 codegen units); restore the one of
# Cargo.toml: an init is built for size.
IOCINIT_CARGO_ENV = \
	CARGO_PROFILE_RELEASE_OPT_LEVEL="z" \
	CARGO_PROFILE_RELEASE_LTO="true" \
	CARGO_PROFILE_RELEASE_CODEGEN_UNITS="1" \
	CARGO_PROFILE_RELEASE_PANIC="abort"

# A local source is not vendored at download time, as a cargo-package
# tarball is: fetch the locked crates into Buildroot's cargo home (kept
# in DL_DIR) before the offline build.
define IOCINIT_FETCH_CRATES
	cd $(@D) && $(HOST_MAKE_ENV) $(PKG_COMMON_CARGO_ENV) \
		cargo fetch --locked --manifest-path Cargo.toml
endef
IOCINIT_POST_RSYNC_HOOKS += IOCINIT_FETCH_CRATES

IOCINIT_BIN = $(@D)/target/$(RUSTC_TARGET_NAME)/$(if $(BR2_ENABLE_DEBUG),debug,release)/iocinit
IOCINIT_SBIN_LINKS = init halt reboot poweroff shutdown killall5 wall
IOCINIT_USR_BIN_LINKS = ioc ioc-runner epoch

define IOCINIT_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0755 $(IOCINIT_BIN) $(TARGET_DIR)/sbin/iocinit
	$(foreach l,$(IOCINIT_SBIN_LINKS),\
		ln -sf iocinit $(TARGET_DIR)/sbin/$(l)$(sep))
	mkdir -p $(TARGET_DIR)/usr/bin
	$(foreach l,$(IOCINIT_USR_BIN_LINKS),\
		ln -sf ../../sbin/iocinit $(TARGET_DIR)/usr/bin/$(l)$(sep))
	mkdir -p $(TARGET_DIR)/etc/epoch $(TARGET_DIR)/etc/procServ.d \
		$(TARGET_DIR)/var/log/procserv
endef

# The options below act on the rootfs overlay, which is copied after
# every package is installed: they run on the filesystem's copy of the
# target directory.
IOCINIT_DEFAULT_RUNLEVEL = $(call qstrip,$(BR2_PACKAGE_IOCINIT_DEFAULT_RUNLEVEL))
ifneq ($(IOCINIT_DEFAULT_RUNLEVEL),)
define IOCINIT_SET_DEFAULT_RUNLEVEL
	grep -q '^DefaultRunlevel ' $(TARGET_DIR)/etc/epoch/epoch.conf || \
		{ echo "iocinit: /etc/epoch/epoch.conf has no DefaultRunlevel line"; exit 1; }
	$(SED) 's/^DefaultRunlevel .*/DefaultRunlevel $(IOCINIT_DEFAULT_RUNLEVEL)/' \
		$(TARGET_DIR)/etc/epoch/epoch.conf
endef
IOCINIT_ROOTFS_PRE_CMD_HOOKS += IOCINIT_SET_DEFAULT_RUNLEVEL
endif

ifeq ($(BR2_PACKAGE_IOCINIT_DEMO_IOC),)
define IOCINIT_REMOVE_DEMO_IOC
	rm -f $(TARGET_DIR)/etc/procServ.d/demo.conf
	rm -rf $(TARGET_DIR)/opt/iocs/demo
endef
IOCINIT_ROOTFS_PRE_CMD_HOOKS += IOCINIT_REMOVE_DEMO_IOC
endif

$(eval $(cargo-package))
