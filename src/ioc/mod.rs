//! EPICS IOC specifics: the procServ command line, and (client side) the
//! console client, socket inspection and the `ioc` table. The engine sees an
//! IOC only as an object with a console.

pub mod procserv;
