################################################################################
#
# epics-softioc
#
################################################################################

# EPICS base as the epicscorelibs sdist ships it; board/common/build-epics
# builds the same release for the QEMU initramfs boards.
EPICS_SOFTIOC_VERSION = 7.0.10.99.0.2
EPICS_SOFTIOC_SOURCE = epicscorelibs-$(EPICS_SOFTIOC_VERSION).tar.gz
EPICS_SOFTIOC_SITE = https://files.pythonhosted.org/packages/source/e/epicscorelibs
EPICS_SOFTIOC_LICENSE = EPICS
EPICS_SOFTIOC_LICENSE_FILES = LICENSE

# EPICS names its Linux targets linux-arm, linux-aarch64, linux-x86_64.
EPICS_SOFTIOC_ARCH = linux-$(ARCH)
EPICS_SOFTIOC_GEN = $(BR2_EXTERNAL_IOCINIT_PATH)/../board/common/epics-gen
EPICS_SOFTIOC_BUILDDIR = $(@D)/br-build

# epics-gen writes the generated sources and the make rules (build.mk)
# that compile them with the sdist's sources and link softIoc -static.
define EPICS_SOFTIOC_BUILD_CMDS
	$(EPICS_SOFTIOC_GEN) $(@D) $(EPICS_SOFTIOC_BUILDDIR) \
		$(EPICS_SOFTIOC_ARCH) /epics
	$(TARGET_MAKE_ENV) $(MAKE) -f $(EPICS_SOFTIOC_BUILDDIR)/build.mk \
		CC="$(TARGET_CC)" CXX="$(TARGET_CXX)" AR="$(TARGET_AR)" \
		STRIP="$(TARGET_STRIP)" OPT="$(TARGET_CFLAGS)"
endef

# softIoc finds its dbd relative to its own path (../../dbd).
define EPICS_SOFTIOC_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0755 $(EPICS_SOFTIOC_BUILDDIR)/softIoc \
		$(TARGET_DIR)/epics/bin/$(EPICS_SOFTIOC_ARCH)/softIoc
	$(INSTALL) -D -m 0644 $(EPICS_SOFTIOC_BUILDDIR)/softIoc.dbd \
		$(TARGET_DIR)/epics/dbd/softIoc.dbd
	mkdir -p $(TARGET_DIR)/usr/bin
	ln -sf ../../epics/bin/$(EPICS_SOFTIOC_ARCH)/softIoc \
		$(TARGET_DIR)/usr/bin/softIoc
endef

$(eval $(generic-package))
