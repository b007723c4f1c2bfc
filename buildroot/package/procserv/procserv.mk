################################################################################
#
# procserv
#
################################################################################

PROCSERV_VERSION = 2.7.0
PROCSERV_SOURCE = procServ-$(PROCSERV_VERSION).tar.gz
PROCSERV_SITE = https://github.com/ralphlange/procServ/releases/download/V$(PROCSERV_VERSION)
PROCSERV_LICENSE = GPL-3.0+
PROCSERV_LICENSE_FILES = COPYING
# The release tarball ships the generated documentation; building it
# would need asciidoc.
PROCSERV_CONF_OPTS = --disable-doc

# configure links libtelnet if it finds it, else builds its bundled copy:
# make the choice explicit.
ifeq ($(BR2_PACKAGE_LIBTELNET),y)
PROCSERV_DEPENDENCIES += libtelnet
else
PROCSERV_CONF_ENV += ac_cv_lib_telnet_telnet_recv=no
endif

$(eval $(autotools-package))
